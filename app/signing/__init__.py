"""Digital signatures on the procedure's decisions.

The decisions that carry legal weight (the sampling record, the release for preservation, the inspection
result, the clearance) are signed over the RFC 8785 canonical JSON of {consignment, task, form data,
attachment hashes, signer, time}, verified before the task completes, and stored with the decision's audit
event. Keys are **ECDSA P-256 with SHA-256** (X.509, what Vietnamese CAs, OpenSSL, PDF readers and
pyHanko all handle); verification also accepts RSA (PKCS#1 v1.5) and Ed25519 certificates from real CAs.

* ``keys`` — key generation, signing, PIN- and passphrase-protected key storage;
* ``pki`` — the demo PKI: root CA, one issuing CA per organization, user certificates, seals, CRLs;
* ``trust`` — trust anchors, known issuing CAs and loaded CRLs (what production configures);
* ``verify`` — certificate path, validity, key usage and revocation, and the signature itself;
* ``payload`` — the exact bytes a signer signs (RFC 8785 canonical JSON);
* ``pin_guard`` — the signing PIN's attempt limit (five wrong PINs lock remote signing for 15 minutes);
* ``service`` — what commands and pages call: sign remotely with a PIN, check a client's signature, seal
  system decisions, re-check stored signatures;
* ``export`` — the evidence bundle of one consignment; ``notice`` — the signed result notice PDF.
"""
