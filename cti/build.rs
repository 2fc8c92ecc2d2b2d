//! Compiles `proto/` into Rust: the gRPC server the crate serves, and a
//! client its tests use. `protox` parses the files, so no `protoc` is
//! needed.

use std::path::PathBuf;

/// The proto files, relative to the crate.
const PROTOS: &[&str] = &["proto/switchyard/v1/events.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("cargo sets OUT_DIR")?);
    // Server and client go to separate files: the library compiles only
    // the server, the tests only the client (as an outside client would).
    for (dir, server) in [("server", true), ("client", false)] {
        let dir = out.join(dir);
        std::fs::create_dir_all(&dir)?;
        tonic_prost_build::configure()
            .build_server(server)
            .build_client(!server)
            .build_transport(false)
            .out_dir(&dir)
            .compile_fds(fds.clone())?;
    }
    Ok(())
}
