use std::time::SystemTime;

use super::*;

fn names() -> Vec<String> {
    vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
}

#[test]
fn init_writes_every_file_with_private_keys_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("certs");
    let issued = init(&target, &names()).expect("init");
    let files = [
        (&issued.ca_cert, false),
        (&issued.ca_key, true),
        (&issued.node_cert, false),
        (&issued.node_key, true),
        (&issued.cloud_cert, false),
        (&issued.cloud_key, true),
        (&issued.pseudonym_key, true),
    ];
    for (path, secret) in files {
        assert!(path.starts_with(&target), "{}", path.display());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path)
                .expect("written")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(
                mode,
                if secret { 0o600 } else { 0o644 },
                "{}",
                path.display()
            );
        }
        #[cfg(not(unix))]
        let _ = secret;
    }
    assert_eq!(load_certs(&issued.ca_cert).expect("ca").len(), 1);
    assert_eq!(load_certs(&issued.cloud_cert).expect("cloud").len(), 1);
    load_key(&issued.node_key).expect("node key");
    load_key(&issued.ca_key).expect("ca key");
    load_pseudonym_key(&issued.pseudonym_key).expect("pseudonym key");
}

#[test]
fn init_never_overwrites() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = init(dir.path(), &names()).expect("init");
    let before = std::fs::read(&first.ca_key).expect("read");
    let again = init(dir.path(), &names());
    assert!(matches!(again, Err(PkiError::Exists(p)) if p == first.ca_cert));
    assert_eq!(std::fs::read(&first.ca_key).expect("read"), before);

    // One stray file is enough to refuse, and nothing else gets written.
    let other = tempfile::tempdir().expect("temp dir");
    std::fs::write(other.path().join(files::NODE_KEY), "x").expect("write");
    assert!(matches!(
        init(other.path(), &names()),
        Err(PkiError::Exists(_))
    ));
    assert!(!other.path().join(files::CA_CERT).exists());
}

#[test]
fn issue_needs_a_valid_cloud_name() {
    assert!(matches!(
        issue(&[], SystemTime::now()),
        Err(PkiError::NoCloudNames)
    ));
    assert!(matches!(
        issue(&["not a name!".to_owned()], SystemTime::now()),
        Err(PkiError::BadName(_))
    ));
}

#[test]
fn each_issue_makes_a_new_ca_and_key() {
    let a = issue(&names(), SystemTime::now()).expect("issue");
    let b = issue(&names(), SystemTime::now()).expect("issue");
    assert_ne!(a.ca_cert, b.ca_cert);
    assert_ne!(a.pseudonym_key, b.pseudonym_key);
    assert_eq!(parse_certs(&a.node_cert).expect("pem").len(), 1);
    parse_key(&a.cloud_key).expect("pem key");
    assert!(matches!(parse_certs("nothing here"), Err(PkiError::Pem(_))));
}

#[test]
fn loaders_report_bad_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "not pem, not hex").expect("write");
    assert!(matches!(load_certs(&junk), Err(PkiError::Invalid { .. })));
    assert!(matches!(load_key(&junk), Err(PkiError::Invalid { .. })));
    assert!(matches!(
        load_pseudonym_key(&junk),
        Err(PkiError::Invalid { .. })
    ));
    std::fs::write(&junk, "zz".repeat(KEY_LEN)).expect("write");
    assert!(matches!(
        load_pseudonym_key(&junk),
        Err(PkiError::Invalid { .. })
    ));
    let missing = dir.path().join("missing");
    assert!(matches!(load_certs(&missing), Err(PkiError::Io { .. })));
    assert!(matches!(
        load_pseudonym_key(&missing),
        Err(PkiError::Io { .. })
    ));
}
