//! PII detectors for log lines (work in progress).
