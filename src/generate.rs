//! Seeded dataset generator (work in progress).
