//! End-to-end tests of the devstack over real loopback HTTP (reqwest; no mocks).

mod chat;
mod faults;
mod fidelity;
mod helpers;
mod idp;
mod responses;
mod serving;
mod workspace;
