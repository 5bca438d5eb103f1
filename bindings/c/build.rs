//! Gives the shared library the soname it is installed under (`libklog.so.<abi>`,
//! see install.sh): the crate's own file is `libklog_c.so`, but programs linked
//! against the installed `libklog.so` must record the soname, not that file name.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    // Before 1.0 every minor release may change the ABI.
    let abi = if major == "0" { format!("0.{minor}") } else { major };
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libklog.so.{abi}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
