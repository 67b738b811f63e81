//! The fresh working directory each grading gives the program: a copy of
//! its files, owned by the user it runs as, removed afterwards.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::ui::failure::Failure;

/// The most a submission may hold: a folder of a few scripts, not a dataset.
pub const MAX_COPY_BYTES: u64 = 64 << 20;
/// The most files a submission may hold.
pub const MAX_COPY_FILES: usize = 2000;

/// Copies `from` (a file, or a folder's contents) into `to`, without
/// following symbolic links (a link could point anywhere on the caller's
/// machine); says what was left out.
pub fn copy_submission(from: &Path, to: &Path) -> Result<Vec<String>, Failure> {
    let mut budget = Budget::default();
    let mut skipped = Vec::new();
    let meta = std::fs::symlink_metadata(from)
        .map_err(|e| Failure::runtime(format!("{}: {e}", from.display())))?;
    if meta.is_dir() {
        copy_dir(from, to, &mut budget, &mut skipped)?;
    } else if meta.is_file() {
        let name = from
            .file_name()
            .ok_or_else(|| Failure::runtime(format!("{}: no file name", from.display())))?;
        copy_file(from, &to.join(name), meta.len(), &mut budget)?;
    } else {
        skipped.push(format!("{}: not a file or folder", from.display()));
    }
    Ok(skipped)
}

#[derive(Default)]
struct Budget {
    bytes: u64,
    files: usize,
}

fn copy_dir(
    from: &Path,
    to: &Path,
    budget: &mut Budget,
    skipped: &mut Vec<String>,
) -> Result<(), Failure> {
    let io_failure =
        |path: &Path, e: io::Error| Failure::runtime(format!("{}: {e}", path.display()));
    std::fs::create_dir_all(to).map_err(|e| io_failure(to, e))?;
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .map_err(|e| io_failure(from, e))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let target = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&path).map_err(|e| io_failure(&path, e))?;
        if meta.is_dir() {
            copy_dir(&path, &target, budget, skipped)?;
        } else if meta.is_file() {
            copy_file(&path, &target, meta.len(), budget)?;
        } else {
            skipped.push(format!(
                "{}: a link or special file, not copied",
                path.display()
            ));
        }
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path, len: u64, budget: &mut Budget) -> Result<(), Failure> {
    budget.bytes += len;
    budget.files += 1;
    if budget.bytes > MAX_COPY_BYTES || budget.files > MAX_COPY_FILES {
        return Err(Failure::runtime(format!(
            "the submission is larger than {} MiB or {MAX_COPY_FILES} files: not graded",
            MAX_COPY_BYTES >> 20
        )));
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| Failure::runtime(format!("copying {}: {e}", from.display())))
}

/// Makes everything under `dir` belong to `uid`:`gid` (the program's own
/// working directory).
pub fn hand_over(dir: &Path, uid: u32, gid: u32) -> Result<(), Failure> {
    let fail = |path: &Path, e: io::Error| {
        Failure::runtime(format!("handing {} over: {e}", path.display()))
    };
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).map_err(|e| fail(dir, e))?;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| fail(dir, e))?;
    if meta.is_dir() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail(dir, e))?;
        for entry in std::fs::read_dir(dir).map_err(|e| fail(dir, e))? {
            let entry = entry.map_err(|e| fail(dir, e))?;
            hand_over(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Copies one of the grader's files (a certificate, a key) into the
/// program's working directory, readable by its user; the copy's path.
pub fn give(file: &Path, workdir: &Path) -> Result<PathBuf, Failure> {
    let name = file
        .file_name()
        .ok_or_else(|| Failure::runtime(format!("{}: no file name", file.display())))?;
    // Two files of one name (a certificate and a CA in different folders)
    // must not overwrite each other.
    let mut target = workdir.join(name);
    let mut n = 2;
    while target.exists() {
        target = workdir.join(format!("{n}-{}", name.to_string_lossy()));
        n += 1;
    }
    std::fs::copy(file, &target)
        .map_err(|e| Failure::runtime(format!("copying {}: {e}", file.display())))?;
    let owner = std::fs::metadata(workdir)
        .map_err(|e| Failure::runtime(format!("{}: {e}", workdir.display())))?;
    hand_over(&target, owner.uid(), owner.gid())?;
    Ok(target)
}
