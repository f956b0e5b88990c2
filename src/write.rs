//! Dataset writers (work in progress).
