//! Files written under a temporary name and renamed into place when complete, so that a
//! reader never sees half a file and a crashed writer leaves only a temporary to replace.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

/// A file written under a temporary name and renamed into place by [`AtomicFile::commit`].
/// Dropping it uncommitted removes the temporary file.
pub struct AtomicFile {
    file: Option<BufWriter<File>>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> Result<AtomicFile> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let name = dest
            .file_name()
            .ok_or_else(|| anyhow!("{} has no file name", dest.display()))?;
        // Deterministic, hidden name: a re-run after a crash overwrites the stale temporary.
        let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(AtomicFile {
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("committed twice");
        let file = file
            .into_inner()
            .map_err(|e| anyhow!("cannot write {}: {}", self.tmp.display(), e.error()))?;
        file.sync_data()
            .with_context(|| format!("cannot sync {}", self.tmp.display()))?;
        drop(file);
        fs::rename(&self.tmp, &self.dest).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.tmp.display(),
                self.dest.display()
            )
        })
    }

    /// Writes a small file that several tasks of a step may write at once with the same
    /// content (the step's configuration, its list of inputs), possibly on different nodes:
    /// each writes its own temporary (named with its process id) and renames it. A rename that
    /// fails because another writer already swept the temporary is fine when the file is there
    /// with these bytes. Temporaries of writers that died (no such process here) are removed.
    pub fn write_shared(dest: &Path, bytes: &[u8]) -> Result<()> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let name = dest
            .file_name()
            .ok_or_else(|| anyhow!("{} has no file name", dest.display()))?
            .to_string_lossy()
            .into_owned();
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        if let Err(e) = fs::rename(&tmp, dest) {
            let _ = fs::remove_file(&tmp);
            if fs::read(dest).ok().as_deref() != Some(bytes) {
                return Err(anyhow!(
                    "cannot rename {} to {}: {e}",
                    tmp.display(),
                    dest.display()
                ));
            }
        }
        let prefix = format!(".{name}.");
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let f = e.file_name().to_string_lossy().into_owned();
            let pid = f
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".tmp"))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// Writes a whole file atomically.
    pub fn write_all(dest: &Path, bytes: &[u8]) -> Result<()> {
        let mut f = AtomicFile::create(dest)?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        f.commit()
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("write after commit").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("flush after commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
