//! loom models of bookings and cancels racing checks.
