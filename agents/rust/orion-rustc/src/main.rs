//! `orion-rustc`, the RUSTC_WRAPPER that `orion run` / `orion test` give cargo: cargo runs
//! `orion-rustc RUSTC ARGS...` for every crate it compiles. The crates of the packages
//! cargo was asked to build (CARGO_PRIMARY_PACKAGE), and those ORION_RUST_INCLUDE names,
//! are compiled from a copy of their package directory in which every function, impl block
//! and trait carries `#[::orion::trace]`, linked with the runtime crate ORION_RUST_RUNTIME
//! names. Everything else goes to rustc unchanged. The package's own files are only read.

mod rewrite;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// A compilation to instrument: where the crate's sources are and where the copy goes.
struct Job {
    package: PathBuf,
    source_arg: usize,
    source_in_package: PathBuf,
    mirror: PathBuf,
}

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.is_empty() {
        eprintln!("orion-rustc: usage: orion-rustc RUSTC [ARGS...] (a RUSTC_WRAPPER for cargo)");
        exit(2);
    }
    let rustc = args.remove(0);
    let status = match (plan(&args), std::env::var_os("ORION_RUST_RUNTIME")) {
        (Some(job), Some(runtime)) => {
            match instrumented(&rustc, &args, &job, Path::new(&runtime)) {
                Ok(status) => status,
                Err(error) => {
                    let _ = fs::remove_dir_all(&job.mirror);
                    eprintln!(
                        "orion-rustc: {} is built without tracing: {error}",
                        job.package.display()
                    );
                    run(&rustc, &args)
                }
            }
        }
        _ => run(&rustc, &args),
    };
    exit(status);
}

fn run(rustc: &OsStr, args: &[OsString]) -> i32 {
    match Command::new(rustc).args(args).status() {
        Ok(status) => status.code().unwrap_or(101),
        Err(error) => {
            eprintln!(
                "orion-rustc: cannot run {}: {error}",
                Path::new(rustc).display()
            );
            101
        }
    }
}

fn value_of<'a>(args: &'a [OsString], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.to_str())
}

/// The compilation to instrument, if this is one: a crate of a primary or included package,
/// not a build script, not a proc-macro, not the agent itself.
fn plan(args: &[OsString]) -> Option<Job> {
    let crate_name = value_of(args, "--crate-name")?;
    if crate_name.starts_with("build_script_")
        || value_of(args, "--crate-type") == Some("proc-macro")
        || crate_name == "orion"
        || crate_name.starts_with("orion_")
    {
        return None;
    }
    let package_name = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let included = std::env::var("ORION_RUST_INCLUDE").unwrap_or_default();
    let wanted = std::env::var_os("CARGO_PRIMARY_PACKAGE").is_some()
        || included.split(',').map(str::trim).any(|name| {
            !name.is_empty() && (name == package_name || name.replace('-', "_") == crate_name)
        });
    if !wanted {
        return None;
    }
    let package = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let cwd = std::env::current_dir().ok()?;
    let source_arg = args.iter().position(|a| {
        Path::new(a).extension() == Some(OsStr::new("rs")) && cwd.join(a).is_file()
    })?;
    let source_in_package = cwd
        .join(&args[source_arg])
        .strip_prefix(&package)
        .ok()?
        .to_path_buf();
    if rewrite::is_no_std(&fs::read_to_string(package.join(&source_in_package)).ok()?) {
        return None;
    }
    let unique = format!(
        "orion-rustc-{}-{}-{crate_name}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    Some(Job {
        package,
        source_arg,
        source_in_package,
        mirror: std::env::temp_dir().join(unique),
    })
}

/// Compiles the crate from the instrumented copy; the copy is removed afterwards.
fn instrumented(rustc: &OsStr, args: &[OsString], job: &Job, runtime: &Path) -> io::Result<i32> {
    mirror(&job.package, &job.mirror, true)?;
    let mut args = args.to_vec();
    // Paths in messages, panics and file!() read as cargo gave them: relative to its
    // working directory when the source path was relative.
    let original = Path::new(&args[job.source_arg]).to_path_buf();
    let shown = original
        .to_str()
        .and_then(|o| o.strip_suffix(job.source_in_package.to_str()?))
        .unwrap_or("")
        .to_string();
    args[job.source_arg] = job.mirror.join(&job.source_in_package).into_os_string();
    args.push(format!("--remap-path-prefix={}/={shown}", job.mirror.display()).into());
    let already_linked = args
        .iter()
        .any(|a| a.to_str().is_some_and(|a| a.starts_with("orion=")));
    if !already_linked {
        let deps = runtime.parent().unwrap_or(Path::new("."));
        args.push("--extern".into());
        args.push(format!("orion={}", runtime.display()).into());
        args.push("-L".into());
        args.push(format!("dependency={}", deps.display()).into());
    }
    let status = run(rustc, &args);
    point_dep_info_at_the_package(&args, job);
    let _ = fs::remove_dir_all(&job.mirror);
    Ok(status)
}

/// A copy of `from` whose `.rs` files are instrumented and whose other files are links to
/// the originals (for `include_str!` and friends); the target and VCS directories are left
/// out.
fn mirror(from: &Path, to: &Path, top: bool) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let (source, copy) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if (top && name == "target") || name == ".git" {
                continue;
            }
            mirror(&source, &copy, false)?;
        } else if source.extension() == Some(OsStr::new("rs")) {
            let text = fs::read_to_string(&source)?;
            fs::write(&copy, rewrite::instrument(&text).unwrap_or(text))?;
        } else {
            std::os::unix::fs::symlink(&source, &copy)?;
        }
    }
    Ok(())
}

/// Cargo decides what to rebuild from rustc's dep-info file: it must name the package's
/// files, not the copy's, which is gone by then.
fn point_dep_info_at_the_package(args: &[OsString], job: &Job) {
    let (Some(out_dir), Some(crate_name)) =
        (value_of(args, "--out-dir"), value_of(args, "--crate-name"))
    else {
        return;
    };
    let extra = args
        .iter()
        .filter_map(|a| a.to_str())
        .find_map(|a| a.strip_prefix("extra-filename="))
        .unwrap_or("");
    let dep_info = Path::new(out_dir).join(format!("{crate_name}{extra}.d"));
    if let Ok(text) = fs::read_to_string(&dep_info) {
        let copy = job.mirror.to_string_lossy();
        let _ = fs::write(
            &dep_info,
            text.replace(copy.as_ref(), &job.package.to_string_lossy()),
        );
    }
}
