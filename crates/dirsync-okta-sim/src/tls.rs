//! Serving the simulator over HTTPS, for clients that only build `https://`
//! URLs (Airbyte's Okta connector asks `https://{domain}.okta.com`).
//!
//! At start a throwaway certificate authority is made and signs a server
//! certificate for `127.0.0.1` and `localhost` (rcgen); nothing is written
//! to disk here: the caller gets the authority's PEM
//! ([`OktaSim::tls_ca_pem`](crate::OktaSim::tls_ca_pem)) and hands it to
//! its client (`REQUESTS_CA_BUNDLE`, `reqwest::Certificate::from_pem`). An
//! authority plus a leaf, rather than one self-signed leaf, because strict
//! verifiers (Python 3.13's `VERIFY_X509_STRICT`, webpki) want a trust
//! anchor that is a CA and a server certificate that is not.
//!
//! rustls runs on aws-lc-rs, the provider reqwest and lapin already link,
//! passed explicitly so no process default is needed; a second provider
//! (ring) would leave rustls unable to pick one.
//!
//! Handshakes run as tasks of their own so a slow or silent client never
//! holds up `accept` for the others; one that does not finish in 10 s is
//! dropped.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

use crate::listener::{Conn, SimListener, SimStream};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The names the server certificate is valid for.
const SERVER_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// A certificate authority made at start and the server configuration
/// whose certificate it signed.
pub(crate) struct TlsIdentity {
    ca_pem: String,
    acceptor: TlsAcceptor,
}

impl TlsIdentity {
    /// Makes a fresh authority and a server certificate for loopback.
    pub(crate) fn generate() -> io::Result<TlsIdentity> {
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "okta-sim throwaway CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(invalid)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(invalid)?;
        let ca = Issuer::new(ca_params, ca_key);

        let mut params = CertificateParams::new(SERVER_NAMES.map(str::to_owned).to_vec()).map_err(invalid)?;
        params.distinguished_name.push(DnType::CommonName, "okta-sim");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(invalid)?;
        let cert = params.signed_by(&key, &ca).map_err(invalid)?;

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca_cert.der().clone()];
        let mut config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(invalid)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(invalid)?;
        // The simulator's clients speak HTTP/1.1 (Python's requests only can).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsIdentity {
            ca_pem: ca_cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// What [`TlsSimListener`] completes handshakes with.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// The authority's certificate, PEM: what a client must trust.
    pub(crate) fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}

fn invalid(error: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, error)
}

/// [`SimListener`] with TLS on top: yields connections whose handshake is
/// done. The kill switch of each connection stays on the TCP stream below.
pub(crate) struct TlsSimListener {
    tcp: SimListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<io::Result<(TlsStream<SimStream>, SocketAddr)>>,
}

impl TlsSimListener {
    pub(crate) fn new(tcp: SimListener, acceptor: TlsAcceptor) -> TlsSimListener {
        TlsSimListener {
            tcp,
            acceptor,
            handshakes: JoinSet::new(),
        }
    }
}

impl Listener for TlsSimListener {
    type Io = TlsStream<SimStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        loop {
            // Both branches are cancel-safe: a pending handshake stays in
            // the set when axum drops this future at shutdown.
            tokio::select! {
                (stream, addr) = self.tcp.accept() => {
                    let acceptor = self.acceptor.clone();
                    self.handshakes.spawn(async move {
                        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
                        Ok((tls, addr))
                    });
                }
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => match done {
                    Ok(Ok(connection)) => return connection,
                    Ok(Err(error)) => tracing::debug!(%error, "okta-sim TLS handshake failed"),
                    Err(error) => tracing::warn!(%error, "okta-sim TLS handshake task failed"),
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl Connected<IncomingStream<'_, TlsSimListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, TlsSimListener>) -> Self {
        stream.io().get_ref().0.conn()
    }
}
