//! Custos gRPC API: message types, client and server stubs generated from
//! `proto/custos/v1/custos.proto`.
#![forbid(unsafe_code)]

pub mod client;

/// Version 1 of the API.
pub mod v1 {
    #![allow(missing_docs, clippy::all)]
    tonic::include_proto!("custos.v1");
}
