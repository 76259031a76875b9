//! Whom Lakepass trusts over TLS, and how a refused certificate is told from a dead network.
//!
//! Companies that buy Databricks often inspect TLS with their own CA (Zscaler, Netskope, …).
//! With webpki's built-in roots only, every request then failed, was retried as "unreachable",
//! and the doctor blamed the network. So every client Lakepass builds ([`Trust::client_builder`])
//! trusts what the rest of the system trusts — the OS store through `rustls-platform-verifier`
//! (on Linux that is `rustls-native-certs`, which also reads `SSL_CERT_FILE` / `SSL_CERT_DIR`) —
//! plus `SSL_CERT_FILE` / `SSL_CERT_DIR` on every platform, plus every `ca_file` the config names.
//! All configured CA files go into one client: a CA a company adds is trusted for all of its hosts.
//!
//! A certificate from an unknown CA is reported with the name of that CA
//! ([`untrusted_issuer`]), so the error can say which CA to configure; it is never retried.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

/// The CA certificates trusted beyond the OS store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// PEM files, each holding one or more CA certificates (`ca_file` settings).
    pub ca_files: Vec<PathBuf>,
}

/// A `ca_file` (or `SSL_CERT_FILE`) that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The file could not be read or holds no PEM certificate.
    #[error("CA file {path} cannot be used: {message}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl Trust {
    /// Trust the OS store and `SSL_CERT_FILE` / `SSL_CERT_DIR` only.
    pub fn system() -> Self {
        Trust::default()
    }

    /// Also trust the CAs in these PEM files.
    pub fn with_ca_files(files: impl IntoIterator<Item = PathBuf>) -> Self {
        let mut ca_files: Vec<PathBuf> = Vec::new();
        for f in files {
            if !ca_files.contains(&f) {
                ca_files.push(f);
            }
        }
        Trust { ca_files }
    }

    /// The extra roots: the `ca_file`s, then `SSL_CERT_FILE` and the files in `SSL_CERT_DIR`.
    fn extra_roots(&self) -> Result<Vec<CertificateDer<'static>>, TrustError> {
        let mut roots = Vec::new();
        for path in &self.ca_files {
            roots.extend(read_pem(path)?);
        }
        // The environment's files are best effort: OpenSSL also skips what it cannot read.
        if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
            roots.extend(read_pem(Path::new(&file)).unwrap_or_default());
        }
        if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
            for dir in std::env::split_paths(&dirs) {
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                for entry in entries.flatten() {
                    roots.extend(read_pem(&entry.path()).unwrap_or_default());
                }
            }
        }
        Ok(roots)
    }

    /// The rustls configuration: the platform verifier with the extra roots, wrapped so an
    /// unknown CA is named. Falls back to webpki's roots plus the extra roots when the system
    /// has no store at all (a bare container).
    pub(crate) fn rustls_config(&self) -> Result<rustls::ClientConfig, TrustError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = self.extra_roots()?;
        let inner: Arc<dyn ServerCertVerifier> =
            match rustls_platform_verifier::Verifier::new_with_extra_roots(roots.clone(), provider.clone()) {
                Ok(v) => Arc::new(v),
                Err(e) => {
                    tracing::warn!(error = %e, "no usable OS trust store; trusting the configured CAs only");
                    let mut store = rustls::RootCertStore::empty();
                    store.add_parsable_certificates(roots);
                    rustls::client::WebPkiServerVerifier::builder_with_provider(
                        store.into(),
                        provider.clone(),
                    )
                    .build()
                    .map_err(|e| TrustError::CaFile {
                        path: self.ca_files.first().cloned().unwrap_or_default(),
                        message: format!("no CA certificate to trust ({e})"),
                    })?
                }
            };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NamingVerifier { inner }))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// A reqwest builder with this trust and Lakepass's timeouts, no redirects, and the proxy
    /// settings of the environment (`HTTPS_PROXY`, `NO_PROXY`: reqwest reads them by default).
    pub(crate) fn client_builder(&self) -> Result<reqwest::ClientBuilder, TrustError> {
        Ok(reqwest::Client::builder()
            .use_preconfigured_tls(self.rustls_config()?)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("lakepass/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(90)))
    }

    /// [`client_builder`](Self::client_builder), built; a bad `ca_file` is logged and left out
    /// rather than leaving Lakepass with no client (the doctor reports the file).
    pub fn client(&self) -> reqwest::Client {
        let builder = self.client_builder().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring the configured CA files");
            Trust::system().client_builder().expect("the system trust needs no file")
        });
        builder.build().expect("reqwest client with static settings")
    }

    /// Checks every `ca_file` can be read, for the doctor and `config check`.
    pub fn check(&self) -> Result<(), TrustError> {
        for path in &self.ca_files {
            read_pem(path)?;
        }
        Ok(())
    }
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let fail = |message: String| TrustError::CaFile { path: path.to_path_buf(), message };
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The CA a server's certificate chain leads to when no trusted root vouches for it.
#[derive(Debug, thiserror::Error)]
#[error("certificate issued by an untrusted CA: {issuer}")]
struct UnknownIssuer {
    issuer: String,
}

/// Delegates to the real verifier and, when it refuses an unknown issuer, keeps that issuer's
/// name in the error so the user learns which CA to configure.
#[derive(Debug)]
struct NamingVerifier {
    inner: Arc<dyn ServerCertVerifier>,
}

impl ServerCertVerifier for NamingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now).map_err(
            |e| match e {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                    let top = intermediates.last().unwrap_or(end_entity);
                    let issuer = issuer_name(top).unwrap_or_else(|| "an unnamed CA".into());
                    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
                        UnknownIssuer { issuer },
                    ))))
                }
                other => other,
            },
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// When `err` (or anything in its source chain) is a certificate from an untrusted CA, that
/// CA's name. io::Error hides its inner error from `source()`, so it is opened explicitly.
pub fn untrusted_issuer(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        match e.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                return Some("an unknown CA".into());
            }
            Some(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(o)))) => {
                if let Some(u) = o.downcast_ref::<UnknownIssuer>() {
                    return Some(u.issuer.clone());
                }
            }
            _ => {}
        }
        // An io::Error's `source()` skips the error it wraps (which may be another io::Error).
        let inner = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        cur = match inner {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// One DER element: (tag, contents, the rest).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize), &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The issuer of a DER certificate, as `CN=…, O=…` (CN, O and OU only; enough to name a CA).
fn issuer_name(cert: &[u8]) -> Option<String> {
    let (_, cert, _) = der(cert)?;
    let (_, tbs, _) = der(cert)?;
    let (tag, _, mut rest) = der(tbs)?; // version [0], or the serial number when v1
    if tag == 0xa0 {
        rest = der(rest)?.2; // serial number
    }
    let (_, _, rest) = der(rest)?; // signature algorithm
    let (_, mut name, _) = der(rest)?; // issuer
    let mut parts = Vec::new();
    while let Some((_, set, next)) = der(name) {
        let (_, attr, _) = der(set)?;
        let (_, oid, value) = der(attr)?;
        let (_, value, _) = der(value)?;
        let label = match oid {
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x0a] => "O",
            [0x55, 0x04, 0x0b] => "OU",
            _ => "",
        };
        if !label.is_empty() {
            parts.push(format!("{label}={}", crate::text::server_text(&String::from_utf8_lossy(value))));
        }
        name = next;
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(name: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        p.distinguished_name.push(rcgen::DnType::OrganizationName, "Example Corp");
        (p.self_signed(&key).unwrap(), rcgen::Issuer::new(p, key))
    }

    #[test]
    fn the_issuer_is_read_from_the_certificate() {
        let (_, issuer) = ca("Corp Inspection CA");
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        assert_eq!(issuer_name(leaf.der()).as_deref(), Some("CN=Corp Inspection CA, O=Example Corp"));
        assert_eq!(issuer_name(b"not der"), None);
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here").unwrap();
        let missing = dir.path().join("missing.pem");
        for path in [empty, missing] {
            let t = Trust::with_ca_files([path.clone()]);
            let e = t.check().unwrap_err();
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        let (ca, _) = ca("Good CA");
        let good = dir.path().join("good.pem");
        std::fs::write(&good, ca.pem()).unwrap();
        let t = Trust::with_ca_files([good.clone(), good]);
        assert_eq!(t.ca_files.len(), 1);
        t.check().unwrap();
        t.rustls_config().unwrap();
    }

    #[test]
    fn an_unknown_issuer_is_found_behind_io_errors() {
        let named =
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(UnknownIssuer {
                issuer: "CN=Zscaler Root CA".into(),
            }))));
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, named);
        assert_eq!(untrusted_issuer(&io).as_deref(), Some("CN=Zscaler Root CA"));
        let twice = std::io::Error::other(io);
        assert_eq!(untrusted_issuer(&twice).as_deref(), Some("CN=Zscaler Root CA"));
        let expired = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::Expired),
        );
        assert_eq!(untrusted_issuer(&expired), None);
    }
}
