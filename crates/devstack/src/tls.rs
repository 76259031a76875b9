//! HTTPS for `devstack --tls`: a CA made at start and a certificate it signs for the loopback
//! names.
//!
//! The real service is only ever HTTPS, and a company's TLS-inspecting proxy is a CA nobody's
//! webpki roots know. A devstack with its own fresh CA is both at once: a client that trusts
//! only the built-in roots fails against it exactly as it would behind such a proxy, and a client
//! given the CA (`ca_file`, `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, the system store) works.

use std::sync::Arc;

use anyhow::Context as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use tokio_rustls::TlsAcceptor;

/// The devstack's CA and the server side of TLS.
#[derive(Clone)]
pub(crate) struct Tls {
    /// The CA certificate, PEM: what clients must trust.
    pub(crate) ca_pem: String,
    /// Accepts TLS connections with the leaf certificate.
    pub(crate) acceptor: TlsAcceptor,
}

/// The start of the CA's name, as clients report an untrusted issuer. Each devstack adds a
/// random suffix: a test that puts one devstack's CA in the machine's store must not make
/// another devstack's certificate look signed by a same-named CA with another key (a signature
/// failure where an unknown issuer is meant), in this run or a parallel one.
pub const CA_NAME: &str = "Lakepass devstack CA";

impl Tls {
    /// A new CA and a leaf for `127.0.0.1`, `::1`, `localhost` and each of `more` (the
    /// workspaces' own addresses, when they have them).
    pub(crate) fn generate(more: &[std::net::IpAddr]) -> anyhow::Result<Self> {
        let ca_key = KeyPair::generate().context("CA key")?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, format!("{CA_NAME} {}", crate::keys::random_hex(4)));
        ca.distinguished_name.push(DnType::OrganizationName, "Lakepass");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).context("signing the CA")?;
        let issuer = Issuer::new(ca, ca_key);

        let leaf_key = KeyPair::generate().context("server key")?;
        let mut leaf = CertificateParams::new(vec!["localhost".to_owned()])?;
        leaf.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
        leaf.subject_alt_names.push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        for ip in more.iter().filter(|ip| **ip != std::net::IpAddr::from([127, 0, 0, 1])) {
            leaf.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        leaf.distinguished_name.push(DnType::CommonName, "localhost");
        // Name the CA's key too, as real CAs do (RFC 5280 §4.2.1.1): a client that trusts
        // several CAs of one name (Claude Code says CERT_SIGNATURE_FAILURE then) can tell which
        // key signed this leaf.
        leaf.use_authority_key_identifier_extension = true;
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).context("signing the server certificate")?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![leaf_cert.der().clone()], key)?;
        // The accept loop speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls { ca_pem: ca_cert.pem(), acceptor: TlsAcceptor::from(Arc::new(config)) })
    }

    /// The CA as a root certificate for the devstack's own client (it fetches its IdP's JWKS).
    pub(crate) fn root(&self) -> anyhow::Result<reqwest::Certificate> {
        Ok(reqwest::Certificate::from_pem(self.ca_pem.as_bytes())?)
    }
}
