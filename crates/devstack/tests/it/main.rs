//! End-to-end tests of the devstack over real loopback HTTP (reqwest; no mocks).

mod faults;
mod helpers;
mod idp;
mod serving;
mod workspace;
