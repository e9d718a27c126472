#include "CTLS.h"
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctls_context { SSL_CTX *ctx; };
struct ctls_session {
    SSL *ssl;
    // Set once OpenSSL reports a fatal error (SSL_ERROR_SYSCALL or SSL_ERROR_SSL): the session
    // must then not be shut down, only freed.
    int failed;
};

static void fail(char *error, size_t length, const char *what) {
    unsigned long code = ERR_get_error();
    char detail[256] = "";
    if (code) ERR_error_string_n(code, detail, sizeof detail);
    snprintf(error, length, "%s%s%s", what, code ? ": " : "", detail);
    ERR_clear_error();
}

// The client's list must offer http/1.1; anything else proceeds without ALPN (HTTP/1.1 anyway).
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_length,
                       const unsigned char *in, unsigned int in_length, void *arg) {
    (void)ssl; (void)arg;
    static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, out_length, http11, sizeof http11, in, in_length) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

ctls_context *ctls_context_new(const char *certificate_path, const char *private_key_path, char *error, size_t error_length) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) { fail(error, error_length, "OpenSSL could not create a TLS context"); return NULL; }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // TLS 1.2: ECDHE key exchange with AEAD ciphers only (TLS 1.3's suites are all of that kind).
    SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    // Partial writes and moving buffers suit a non-blocking writer that keeps its own queue.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    char what[512];
    if (SSL_CTX_use_certificate_chain_file(ctx, certificate_path) != 1) {
        snprintf(what, sizeof what, "cannot load the certificate chain %s (PEM expected)", certificate_path);
        fail(error, error_length, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, private_key_path, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            snprintf(what, sizeof what, "the private key %s does not match the certificate %s", private_key_path, certificate_path);
        else
            snprintf(what, sizeof what, "cannot load the private key %s (PEM expected)", private_key_path);
        fail(error, error_length, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(what, sizeof what, "the private key %s does not match the certificate %s", private_key_path, certificate_path);
        fail(error, error_length, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    X509 *certificate = SSL_CTX_get0_certificate(ctx);
    if (X509_cmp_current_time(X509_get0_notAfter(certificate)) <= 0) {
        snprintf(error, error_length, "the certificate %s has expired; renew it", certificate_path);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (X509_cmp_current_time(X509_get0_notBefore(certificate)) >= 0) {
        snprintf(error, error_length, "the certificate %s is not valid yet; check its dates and the clock", certificate_path);
        SSL_CTX_free(ctx);
        return NULL;
    }
    ctls_context *context = malloc(sizeof *context);
    context->ctx = ctx;
    return context;
}

void ctls_context_free(ctls_context *context) {
    if (!context) return;
    SSL_CTX_free(context->ctx);
    free(context);
}

ctls_session *ctls_session_new(ctls_context *context, int fd) {
    SSL *ssl = SSL_new(context->ctx);
    if (!ssl) return NULL;
    SSL_set_fd(ssl, fd);
    SSL_set_accept_state(ssl);
    ctls_session *session = malloc(sizeof *session);
    session->ssl = ssl;
    session->failed = 0;
    return session;
}

void ctls_session_free(ctls_session *session) {
    if (!session) return;
    SSL_free(session->ssl);
    free(session);
}

// What a failed call means, from the error OpenSSL gives for it (read once: it depends on the
// thread's error queue, which is cleared here).
static long outcome(ctls_session *session, int error) {
    switch (error) {
    case SSL_ERROR_WANT_READ: return CTLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return CTLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: ERR_clear_error(); return CTLS_CLOSED;
    default:
        session->failed = 1;
        ERR_clear_error();
        return CTLS_ERROR;
    }
}

int ctls_handshake(ctls_session *session) {
    int result = SSL_do_handshake(session->ssl);
    if (result == 1) return 1;
    long o = outcome(session, SSL_get_error(session->ssl, result));
    return o == CTLS_CLOSED ? CTLS_ERROR : (int)o;
}

long ctls_read(ctls_session *session, void *buffer, size_t length) {
    size_t done = 0;
    int result = SSL_read_ex(session->ssl, buffer, length, &done);
    if (result == 1) return (long)done;
    int error = SSL_get_error(session->ssl, result);
    long o = outcome(session, error);
    // A peer that closes the socket without close_notify has still ended the stream.
    return error == SSL_ERROR_SYSCALL ? CTLS_CLOSED : o;
}

long ctls_write(ctls_session *session, const void *buffer, size_t length) {
    size_t done = 0;
    int result = SSL_write_ex(session->ssl, buffer, length, &done);
    if (result == 1) return (long)done;
    long o = outcome(session, SSL_get_error(session->ssl, result));
    return o == CTLS_CLOSED ? CTLS_ERROR : o;
}

void ctls_shutdown(ctls_session *session) {
    // OpenSSL forbids SSL_shutdown after a fatal error, and it means nothing before the
    // handshake is done.
    if (session->failed || !SSL_is_init_finished(session->ssl)) return;
    SSL_shutdown(session->ssl);
    ERR_clear_error();
}

const char *ctls_version(ctls_session *session) { return SSL_get_version(session->ssl); }

void ctls_alpn(ctls_session *session, char *out, size_t length) {
    const unsigned char *data = NULL;
    unsigned int count = 0;
    SSL_get0_alpn_selected(session->ssl, &data, &count);
    size_t n = count < length - 1 ? count : length - 1;
    if (data) memcpy(out, data, n);
    out[n] = 0;
}
