//! Whom Lakepass trusts over TLS, and how a refused certificate is told from a dead network.
//!
//! Companies that buy Databricks often inspect TLS with their own CA (Zscaler, Netskope, …).
//! With webpki's built-in roots only, every request then failed, was retried as "unreachable",
//! and the doctor blamed the network. So every client Lakepass builds ([`Trust::client_builder`])
//! trusts what the rest of the system trusts — the OS store through `rustls-platform-verifier`
//! (on Linux that is `rustls-native-certs`, which also reads `SSL_CERT_FILE` / `SSL_CERT_DIR`) —
//! plus `SSL_CERT_FILE` / `SSL_CERT_DIR` on every platform, plus the `ca_file`s the config names.
//!
//! A `ca_file` is trusted only for the hosts of the entry that names it ([`Trust::scoped`]): the
//! top-level one for every host, an IdP's for its issuer's host and the hosts its discovery
//! document names ([`crate::http::Http::trust_like`]), a workspace's for that workspace (and its
//! `account_host`). Trusting every CA for every host let one workspace's CA (from a team file,
//! say) intercept the IdP refresh and take the refresh token. One client serves them all: its
//! verifier (`ScopedVerifier`) tries the roots every host trusts, then the CAs scoped to the
//! name the server is verified for.
//!
//! A CA file is read only when it is a regular file of at most [`MAX_CA_FILE`] bytes: a
//! `ca_file = "/dev/zero"` once made every command grow to a gigabyte, and a FIFO would block.
//!
//! A certificate from an unknown CA is reported with the name of that CA
//! ([`untrusted_issuer`]), so the error can say which CA to configure; it is never retried.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

/// The largest CA file read: 1 MiB. A company's CA file holds a few certificates (a few KiB);
/// even a bundle of every public root is about 250 KiB. Anything larger is not a CA file.
pub const MAX_CA_FILE: u64 = 1024 * 1024;

/// The CA certificates trusted beyond the OS store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// PEM files, each holding one or more CA certificates, trusted for every host (the
    /// top-level `ca_file`).
    pub ca_files: Vec<PathBuf>,
    /// PEM files trusted only for some hosts (an IdP's or a workspace's `ca_file`).
    pub scoped: Vec<ScopedCa>,
}

/// A CA file trusted only for some hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedCa {
    /// The PEM file.
    pub file: PathBuf,
    /// The host names (no port, lower case, IPv6 without brackets) it vouches for.
    pub hosts: BTreeSet<String>,
}

/// The host name of `url` as TLS verifies it: lower case, no port, IPv6 without brackets.
pub fn host_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
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
        Trust { ca_files, scoped: Vec::new() }
    }

    /// Also trusts the CAs in `file` for the hosts of `urls` (and for the hosts already scoped
    /// to that file).
    pub fn scoped_to<'u>(mut self, file: PathBuf, urls: impl IntoIterator<Item = &'u str>) -> Self {
        let hosts = urls.into_iter().filter_map(host_of);
        match self.scoped.iter_mut().find(|s| s.file == file) {
            Some(scope) => scope.hosts.extend(hosts),
            None => self.scoped.push(ScopedCa { file, hosts: hosts.collect() }),
        }
        self
    }

    /// Every CA file, trusted everywhere or scoped.
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.ca_files.iter().chain(self.scoped.iter().map(|s| &s.file))
    }

    /// The roots for every host: the unscoped `ca_file`s, then `SSL_CERT_FILE` and the files in
    /// `SSL_CERT_DIR`.
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

    /// The rustls configuration: the platform verifier with the extra roots, then one per
    /// scoped CA file for its hosts ([`ScopedVerifier`]), wrapped so an unknown CA is named.
    /// Falls back to webpki's roots plus the extra roots when the system has no store at all
    /// (a bare container). Also the scopes' hosts, which discovery may widen.
    pub(crate) fn rustls_config(&self) -> Result<(rustls::ClientConfig, Arc<HostScopes>), TrustError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let global = verifier(self.extra_roots()?, &provider, self.ca_files.first())?;
        let mut hosts = Vec::new();
        let mut verifiers = Vec::new();
        for scope in &self.scoped {
            verifiers.push(verifier(read_pem(&scope.file)?, &provider, Some(&scope.file))?);
            hosts.push(scope.hosts.clone());
        }
        let scopes = Arc::new(HostScopes { hosts: RwLock::new(hosts), verifiers });
        let inner = Arc::new(ScopedVerifier { global, scopes: scopes.clone() });
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NamingVerifier { inner }))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok((config, scopes))
    }

    /// A reqwest builder with this trust and Lakepass's timeouts, no redirects, and the proxy
    /// settings of the environment (`HTTPS_PROXY`, `NO_PROXY`: reqwest reads them by default).
    pub(crate) fn client_builder(&self) -> Result<(reqwest::ClientBuilder, Arc<HostScopes>), TrustError> {
        let (tls, scopes) = self.rustls_config()?;
        Ok((base_builder(tls).timeout(Duration::from_secs(30)), scopes))
    }

    /// [`client_and_scopes`](Self::client_and_scopes), plus a client of the same trust (the same
    /// scopes) for relaying long streams: no overall timeout, only [`STREAM_READ_TIMEOUT`]
    /// between two reads (an agent's answer may stream for many minutes).
    pub(crate) fn clients_and_scopes(&self) -> (reqwest::Client, reqwest::Client, Arc<HostScopes>) {
        let (tls, scopes) = self.rustls_config().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring the configured CA files");
            Trust::system().rustls_config().expect("the system trust needs no file")
        });
        let built = |b: reqwest::ClientBuilder| b.build().expect("reqwest client with static settings");
        let client = built(base_builder(tls.clone()).timeout(Duration::from_secs(30)));
        let streaming = built(base_builder(tls).read_timeout(STREAM_READ_TIMEOUT));
        (client, streaming, scopes)
    }

    /// [`client_builder`](Self::client_builder), built; a bad `ca_file` is logged and left out
    /// rather than leaving Lakepass with no client (the doctor reports the file).
    pub fn client(&self) -> reqwest::Client {
        self.client_and_scopes().0
    }

    /// [`client`](Self::client) and its scopes' hosts.
    pub(crate) fn client_and_scopes(&self) -> (reqwest::Client, Arc<HostScopes>) {
        let (builder, scopes) = self.client_builder().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring the configured CA files");
            Trust::system().client_builder().expect("the system trust needs no file")
        });
        (builder.build().expect("reqwest client with static settings"), scopes)
    }

    /// Checks every `ca_file` can be read, for the doctor and `config check`.
    pub fn check(&self) -> Result<(), TrustError> {
        for path in self.files() {
            read_pem(path)?;
        }
        Ok(())
    }
}

/// The platform verifier trusting `roots` too; webpki's with `roots` alone when the system has
/// no store. `file` names the CA file in an error.
fn verifier(
    roots: Vec<CertificateDer<'static>>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
    file: Option<&PathBuf>,
) -> Result<Arc<dyn ServerCertVerifier>, TrustError> {
    match rustls_platform_verifier::Verifier::new_with_extra_roots(roots.clone(), provider.clone()) {
        Ok(v) => Ok(Arc::new(v)),
        Err(e) => {
            tracing::warn!(error = %e, "no usable OS trust store; trusting the configured CAs only");
            let mut store = rustls::RootCertStore::empty();
            store.add_parsable_certificates(roots);
            let v =
                rustls::client::WebPkiServerVerifier::builder_with_provider(store.into(), provider.clone())
                    .build()
                    .map_err(|e| TrustError::CaFile {
                        path: file.cloned().unwrap_or_default(),
                        message: format!("no CA certificate to trust ({e})"),
                    })?;
            Ok(v)
        }
    }
}

/// Longest silence between two reads of a relayed stream ([`crate::http::Http::streaming_client`]).
pub const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(600);

/// Lakepass's client settings over `tls`: connect timeout, no redirects, the proxy settings of
/// the environment (`HTTPS_PROXY`, `NO_PROXY`: reqwest reads them by default).
fn base_builder(tls: rustls::ClientConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("lakepass/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(90))
}

/// The bytes of a CA file: a regular file (symlinks followed) of at most [`MAX_CA_FILE`]
/// bytes, else an error naming the file. Launching a tool passes the same files on, read by
/// this too.
pub fn read_ca_file(path: &Path) -> Result<Vec<u8>, TrustError> {
    let fail = |message: String| TrustError::CaFile { path: path.to_path_buf(), message };
    let not_regular = || fail("it is not a regular file (a folder, device or pipe); name a PEM file".into());
    let too_large = || {
        fail(format!(
            "it is larger than {} MiB, which no CA file is; check that `ca_file` names the right file",
            MAX_CA_FILE / (1024 * 1024)
        ))
    };
    // Looked at before opening: opening a FIFO would wait for a writer.
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if meta.len() > MAX_CA_FILE {
        return Err(too_large());
    }
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    if !file.metadata().map_err(|e| fail(e.to_string()))?.is_file() {
        return Err(not_regular()); // swapped since
    }
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE + 1).read_to_end(&mut bytes).map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_CA_FILE {
        return Err(too_large());
    }
    Ok(bytes)
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let fail = |message: String| TrustError::CaFile { path: path.to_path_buf(), message };
    let bytes = read_ca_file(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(CertificateDer::into_owned))
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The hosts each scoped CA vouches for, beside its verifier. The hosts can grow: endpoints an
/// IdP's discovery document names are trusted like the issuer ([`HostScopes::trust_like`]).
#[derive(Debug)]
pub(crate) struct HostScopes {
    hosts: RwLock<Vec<BTreeSet<String>>>,
    verifiers: Vec<Arc<dyn ServerCertVerifier>>,
}

impl HostScopes {
    /// Every scope that vouches for `known` vouches for `learned` too.
    pub(crate) fn trust_like(&self, known: &str, learned: &[String]) {
        let mut hosts = self.hosts.write().unwrap_or_else(|p| p.into_inner());
        for scope in hosts.iter_mut().filter(|h| h.contains(known)) {
            scope.extend(learned.iter().cloned());
        }
    }

    /// The verifiers of the scopes that vouch for `host`.
    fn for_host(&self, host: &str) -> Vec<Arc<dyn ServerCertVerifier>> {
        let hosts = self.hosts.read().unwrap_or_else(|p| p.into_inner());
        hosts.iter().zip(&self.verifiers).filter(|(h, _)| h.contains(host)).map(|(_, v)| v.clone()).collect()
    }
}

/// The roots every host trusts first; when they refuse, the CAs scoped to the name the server
/// is verified for. The first refusal is the one reported.
#[derive(Debug)]
struct ScopedVerifier {
    global: Arc<dyn ServerCertVerifier>,
    scopes: Arc<HostScopes>,
}

impl ServerCertVerifier for ScopedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refused = match self.global.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(ok) => return Ok(ok),
            Err(e) => e,
        };
        let host = match server_name {
            ServerName::DnsName(d) => d.as_ref().to_ascii_lowercase(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            _ => return Err(refused),
        };
        for scoped in self.scopes.for_host(&host) {
            if let Ok(ok) =
                scoped.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            {
                return Ok(ok);
            }
        }
        Err(refused)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.global.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.global.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.global.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.global.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        None
    }
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
        let scoped = Trust::system().scoped_to(ca_path(&t), ["https://a.example:8443", "https://[::1]:1"]);
        assert_eq!(scoped.scoped[0].hosts.iter().collect::<Vec<_>>(), ["::1", "a.example"]);
        scoped.check().unwrap();
    }

    fn ca_path(t: &Trust) -> PathBuf {
        t.ca_files[0].clone()
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
