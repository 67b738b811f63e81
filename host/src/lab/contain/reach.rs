//! What the unprivileged user must reach: the program's interpreter and
//! the files its command line names, even when they live under a private
//! directory (a teacher's pyenv in /root, a venv in a 0750 home).
//!
//! Inside the sandbox's mount namespace, a private directory on the way to
//! such a path is covered with an empty tmpfs, and only the entry leading
//! to the path is bound back in: the program reaches its interpreter and
//! sees nothing else of that directory. (Nothing on the real file system
//! changes.)

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// `program` as exec would find it through `path` (the PATH variable):
/// an absolute path, or `None` if it is not there.
pub fn resolve(program: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    let path = path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether `uid`:`gid` may pass through every directory above `path`.
fn reachable(path: &Path, uid: u32, gid: u32) -> bool {
    first_private(path, uid, gid).is_none()
}

/// The first directory above `path` that `uid`:`gid` may not pass
/// through, and the entry in it on the way to `path`.
fn first_private(path: &Path, uid: u32, gid: u32) -> Option<(PathBuf, OsString)> {
    let mut dir = PathBuf::from("/");
    for component in path.components() {
        let Component::Normal(name) = component else {
            continue;
        };
        let meta = std::fs::metadata(&dir).ok()?;
        let bit = match (meta.uid() == uid, meta.gid() == gid) {
            (true, _) => 0o100,
            (false, true) => 0o010,
            (false, false) => 0o001,
        };
        if meta.permissions().mode() & bit == 0 {
            return Some((dir, name.to_os_string()));
        }
        dir.push(name);
    }
    None
}

/// Makes each of `paths` (absolute) reachable by `uid`:`gid` in this mount
/// namespace; says which could not be.
pub fn expose(paths: &[PathBuf], uid: u32, gid: u32) -> Vec<String> {
    let mut problems = Vec::new();
    let mut covered: Vec<PathBuf> = Vec::new();
    for path in paths {
        // A private directory inside an exposed one needs its own cover.
        for _ in 0..8 {
            let Some((dir, entry)) = first_private(path, uid, gid) else {
                break;
            };
            if let Err(e) = cover(&dir, &entry, covered.contains(&dir)) {
                problems.push(format!("{}: {e}", path.display()));
                break;
            }
            covered.push(dir);
        }
        if !reachable(path, uid, gid) {
            problems.push(format!("{}: still out of reach", path.display()));
        }
    }
    problems
}

/// Covers `dir` with an empty tmpfs (unless done already) and binds its
/// `entry` back in.
fn cover(dir: &Path, entry: &OsStr, already: bool) -> io::Result<()> {
    let original = dir.join(entry);
    // Held open across the cover, so the bind finds it underneath.
    let held = std::fs::File::open(&original)?;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let dir_c = c(dir)?;
    if !already {
        // SAFETY: mounting a tmpfs on a valid path.
        let mounted = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                dir_c.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                c"mode=0755,size=64k".as_ptr().cast(),
            )
        };
        if mounted != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let target = dir.join(entry);
    if held.metadata()?.is_dir() {
        std::fs::create_dir_all(&target)?;
    } else {
        std::fs::write(&target, b"")?;
    }
    let source = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&held)
    ));
    let (source_c, target_c) = (c(&source)?, c(&target)?);
    // SAFETY: a recursive bind between two valid paths.
    let bound = unsafe {
        libc::mount(
            source_c.as_ptr(),
            target_c.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    };
    match bound {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_found_on_the_path_and_a_path_is_kept() {
        let found = resolve(
            OsStr::new("sh"),
            Some(OsStr::new("/nonexistent:/bin:/usr/bin")),
        );
        assert!(found.is_some_and(|p| p.is_absolute() && p.ends_with("sh")));
        assert_eq!(
            resolve(OsStr::new("./pdc"), None),
            Some(PathBuf::from("./pdc"))
        );
        assert_eq!(resolve(OsStr::new("no-such-program-here"), None), None);
    }

    #[test]
    fn the_first_private_directory_is_found() {
        let base = std::env::temp_dir().join(format!("pmulab-reach-{}", std::process::id()));
        let private = base.join("home");
        let file = private.join("tools").join("python3");
        let Ok(()) = std::fs::create_dir_all(file.parent().unwrap_or(&base)) else {
            panic!("cannot create {}", base.display());
        };
        let _ = std::fs::write(&file, b"");
        let _ = std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755));
        let _ = std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700));
        // 3e9 owns nothing here, so only the others' bits count for it.
        let stranger = 3_000_000_000;
        assert_eq!(
            first_private(&file, stranger, stranger),
            Some((private.clone(), OsString::from("tools")))
        );
        assert_eq!(
            first_private(Path::new("/usr/bin/env"), stranger, stranger),
            None
        );
        let _ = std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o755));
        assert_eq!(first_private(&file, stranger, stranger), None);
        let _ = std::fs::remove_dir_all(&base);
    }
}
