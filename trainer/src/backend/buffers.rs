//! Conveniences over [`Backend`]'s buffer primitives that every caller wants: whole-buffer
//! views, resizing activation buffers in place, and reading a buffer back to the host.

use super::{Backend, Role};

pub trait BackendExt: Backend {
    fn whole<'a>(&self, buf: &'a Self::Buf) -> Self::Ref<'a> {
        self.view(buf, 0..self.buf_len(buf))
    }

    fn whole_mut<'a>(&self, buf: &'a mut Self::Buf) -> Self::Mut<'a> {
        let n = self.buf_len(buf);
        self.view_mut(buf, 0..n)
    }

    /// Makes `buf` hold `n` elements. Contents are kept when the size already matches: every
    /// forward kernel writes all of its output, so reused activation buffers cost nothing to
    /// prepare.
    fn resize(&self, buf: &mut Self::Buf, n: usize, role: Role) {
        if self.buf_len(buf) != n {
            *buf = self.zeros(n, role);
        }
    }

    /// A new buffer holding `src`.
    fn uploaded(&self, src: &[Self::F], role: Role) -> Self::Buf {
        let mut buf = self.zeros(src.len(), role);
        self.upload(self.whole_mut(&mut buf), src);
        buf
    }

    fn to_host(&self, src: Self::Ref<'_>, n: usize) -> Vec<Self::F> {
        let mut out = vec![<Self::F as super::Float>::ZERO; n];
        self.download(src, &mut out);
        out
    }
}

impl<B: Backend + ?Sized> BackendExt for B {}
