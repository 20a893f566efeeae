/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nRF91 dialect: Nordic nRF9160 / nRF91x1 cellular modems provisioned
 * with their own AT commands (protocols/nrf91/README.md). The modem keeps
 * its keys: AT%KEYGEN makes the key in a sec_tag and answers a CSR with a
 * COSE_Sign1 over its hash; AT%CMNG writes the certificate and the root CAs
 * to the same sec_tag and reports the SHA-256 of what it stored.
 */
#define G_LOG_DOMAIN "FstNrf91Device"

#include "fst-nrf91-device.h"

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <string.h>

#include "fst-error.h"
#include "fst-nrf91-at.h"
#include "fst-openssl-common.h"

/* %CMNG credential types */
#define FST_NRF91_TYPE_ROOT_CA 0u
#define FST_NRF91_TYPE_CLIENT_CERT 1u
#define FST_NRF91_TYPE_CLIENT_KEY 2u

/* time for the modem's work, on top of the base: key generation is slow */
#define FST_NRF91_PROC_DEFAULT 1
#define FST_NRF91_PROC_FLASH 5
#define FST_NRF91_PROC_KEYGEN 30

struct _FstNrf91Device {
	FstDevice parent_instance;
	guint32 sec_tag;
	guint base_timeout_ms;
	EVP_PKEY *attestation_key; /* (owned) (nullable): verifies the COSE signature */
};

G_DEFINE_TYPE(FstNrf91Device, fst_nrf91_device, FST_TYPE_DEVICE)

static const gchar *
fst_nrf91_device_port(FstNrf91Device *self)
{
	return fst_transport_get_name(fst_device_get_transport(FST_DEVICE(self)));
}

/* "device 3526..." once identified, for messages */
static const gchar *
fst_nrf91_device_uid(FstNrf91Device *self)
{
	const FstDeviceInfo *info = fst_device_get_info(FST_DEVICE(self));
	return info != NULL ? info->uid : "(not identified)";
}

static FstError
fst_nrf91_cme_to_error(gint code)
{
	switch (code) {
	case 513:
		return FST_ERROR_NOT_FOUND;
	case 514:
	case 519:
		return FST_ERROR_PERMISSION_DENIED;
	case 515:
		return FST_ERROR_STORAGE_FULL;
	case 518:
	case 528:
		return FST_ERROR_BUSY;
	case 523:
		return FST_ERROR_INTERNAL;
	default:
		return FST_ERROR_PROTOCOL;
	}
}

static guint
fst_nrf91_device_wire_ms(FstNrf91Device *self, gsize n)
{
	guint baud = fst_transport_get_baud_rate(fst_device_get_transport(FST_DEVICE(self)));
	if (baud == 0)
		return 0;
	return (guint)((n * 10u * 1000u + baud - 1) / baud);
}

/* sends @cmd (without its CR LF) and waits for the final result code; @what
 * names the command in messages (never the PEM it carries) */
static GPtrArray *
fst_nrf91_device_at(FstNrf91Device *self,
                    const gchar *cmd,
                    const gchar *what,
                    guint proc_factor,
                    GCancellable *cancellable,
                    GError **error)
{
	FstTransport *transport = fst_device_get_transport(FST_DEVICE(self));
	g_autofree gchar *line = g_strdup_printf("%s\r\n", cmd);
	g_autoptr(GByteArray) rx = g_byte_array_new();
	gsize line_len = strlen(line);
	guint timeout_ms = self->base_timeout_ms * (1 + proc_factor) +
	                   2 * fst_nrf91_device_wire_ms(self, line_len + 1024);
	gint64 deadline;

	g_debug("%s: > %s", fst_nrf91_device_port(self), what);
	if (!fst_transport_write(transport,
	                         (const guint8 *)line,
	                         line_len,
	                         self->base_timeout_ms +
	                             2 * fst_nrf91_device_wire_ms(self, line_len),
	                         cancellable,
	                         error)) {
		g_prefix_error(error, "sending %s: ", what);
		return NULL;
	}
	deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	for (;;) {
		guint8 buf[512];
		gint64 now = g_get_monotonic_time();
		g_autoptr(GPtrArray) lines = NULL;
		gint cme = 0;
		gssize n;
		FstNrf91AtFinal final;

		if (now >= deadline) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_TIMED_OUT,
			    "%s: no answer to %s within %u ms; check the cable, the baud "
			    "rate and that the modem firmware takes AT commands on this UART",
			    fst_nrf91_device_port(self),
			    what,
			    timeout_ms);
			return NULL;
		}
		g_autoptr(GError) error_local = NULL;
		n = fst_transport_read(transport,
		                       buf,
		                       sizeof(buf),
		                       (guint)((deadline - now + 999) / 1000),
		                       cancellable,
		                       &error_local);
		if (n < 0) {
			if (g_error_matches(error_local, FST_ERROR, FST_ERROR_TIMED_OUT))
				continue;
			g_propagate_prefixed_error(error,
			                           g_steal_pointer(&error_local),
			                           "waiting for the answer to %s: ",
			                           what);
			return NULL;
		}
		g_byte_array_append(rx, buf, (guint)n);
		final = fst_nrf91_at_scan((const gchar *)rx->data, rx->len, &lines, &cme);
		switch (final) {
		case FST_NRF91_AT_INCOMPLETE:
			continue;
		case FST_NRF91_AT_OK:
			return g_steal_pointer(&lines);
		case FST_NRF91_AT_ERROR:
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_PROTOCOL,
			    "%s: modem %s answered ERROR to %s: the modem firmware does not "
			    "take this command as sent; check that it is an nRF91 modem "
			    "firmware 1.3 or later",
			    fst_nrf91_device_port(self),
			    fst_nrf91_device_uid(self),
			    what);
			return NULL;
		case FST_NRF91_AT_CME_ERROR:
			g_set_error(error,
			            FST_ERROR,
			            fst_nrf91_cme_to_error(cme),
			            "%s: modem %s answered +CME ERROR: %d to %s: %s",
			            fst_nrf91_device_port(self),
			            fst_nrf91_device_uid(self),
			            cme,
			            what,
			            fst_nrf91_cme_error_to_string(cme));
			return NULL;
		case FST_NRF91_AT_OVERSIZE:
		default:
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_PROTOCOL,
			            "%s: the answer to %s passed %u bytes without OK or ERROR; the "
			            "device does not speak nRF91 AT commands",
			            fst_nrf91_device_port(self),
			            what,
			            FST_NRF91_AT_RESPONSE_MAX);
			return NULL;
		}
	}
}

/* a single information line of printable ASCII, at most 64 bytes */
static gchar *
fst_nrf91_device_one_line(FstNrf91Device *self, GPtrArray *lines, const gchar *what, GError **error)
{
	const gchar *line;
	gsize len;

	if (lines->len != 1) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: the answer to %s has %u lines, not 1",
		            fst_nrf91_device_port(self),
		            what,
		            lines->len);
		return NULL;
	}
	line = g_ptr_array_index(lines, 0);
	len = strlen(line);
	if (len == 0 || len > 64) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: the answer to %s is %" G_GSIZE_FORMAT " bytes long",
		            fst_nrf91_device_port(self),
		            what,
		            len);
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		if (line[i] < 0x20 || line[i] > 0x7e) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_PROTOCOL,
			            "%s: the answer to %s is not printable ASCII",
			            fst_nrf91_device_port(self),
			            what);
			return NULL;
		}
	}
	return g_strdup(line);
}

static gboolean
fst_nrf91_device_identify(FstDevice *device, GCancellable *cancellable, GError **error)
{
	FstNrf91Device *self = FST_NRF91_DEVICE(device);
	g_autoptr(GPtrArray) lines = NULL;
	g_autofree gchar *imei = NULL;
	g_autofree gchar *firmware = NULL;
	g_autofree gchar *model = NULL;
	FstDeviceInfo info = {0};

	/* offline: the modem refuses key generation and credential writes
	 * while its radio is on (+CME ERROR: 518); numeric error codes */
	lines = fst_nrf91_device_at(
	    self, "AT+CFUN=4", "AT+CFUN=4", FST_NRF91_PROC_FLASH, cancellable, error);
	if (lines == NULL)
		return FALSE;
	g_clear_pointer(&lines, g_ptr_array_unref);
	lines = fst_nrf91_device_at(
	    self, "AT+CMEE=1", "AT+CMEE=1", FST_NRF91_PROC_DEFAULT, cancellable, error);
	if (lines == NULL)
		return FALSE;
	g_clear_pointer(&lines, g_ptr_array_unref);
	lines = fst_nrf91_device_at(
	    self, "AT+CGSN", "AT+CGSN", FST_NRF91_PROC_DEFAULT, cancellable, error);
	if (lines == NULL)
		return FALSE;
	imei = fst_nrf91_device_one_line(self, lines, "AT+CGSN", error);
	if (imei == NULL)
		return FALSE;
	if (strlen(imei) != 15 || strspn(imei, "0123456789") != 15) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: the modem's IMEI (AT+CGSN) is '%s', not 15 digits",
		            fst_nrf91_device_port(self),
		            imei);
		return FALSE;
	}
	g_clear_pointer(&lines, g_ptr_array_unref);
	lines = fst_nrf91_device_at(
	    self, "AT+CGMR", "AT+CGMR", FST_NRF91_PROC_DEFAULT, cancellable, error);
	if (lines == NULL)
		return FALSE;
	firmware = fst_nrf91_device_one_line(self, lines, "AT+CGMR", error);
	if (firmware == NULL)
		return FALSE;
	g_clear_pointer(&lines, g_ptr_array_unref);
	lines = fst_nrf91_device_at(
	    self, "AT+CGMM", "AT+CGMM", FST_NRF91_PROC_DEFAULT, cancellable, error);
	if (lines == NULL)
		return FALSE;
	model = fst_nrf91_device_one_line(self, lines, "AT+CGMM", error);
	if (model == NULL)
		return FALSE;

	info.uid = imei;
	info.model = model;
	info.firmware = firmware;
	info.protocol_version = 1;
	info.key_types = FST_KEY_TYPE_EC_P256;
	info.validation = FST_VALIDATION_RSA_PKCS1 | FST_VALIDATION_ECDSA_P256;
	info.can_csr = TRUE;
	info.format = FST_CRED_FORMAT_PEM;
	info.capacity[FST_OBJECT_DEVICE_CERT] = FST_NRF91_CREDENTIAL_MAX;
	info.capacity[FST_OBJECT_TRUST_ROOTS] = FST_NRF91_CREDENTIAL_MAX;
	info.cred_slots = 1;
	info.can_digest = TRUE;
	g_info("%s: nrf91 modem %s, model %s, firmware %s, sec_tag %u",
	       fst_nrf91_device_port(self),
	       imei,
	       model,
	       firmware,
	       self->sec_tag);
	fst_device_set_info(device, &info);
	return TRUE;
}

static gboolean
fst_nrf91_device_ensure_identified(FstNrf91Device *self, GCancellable *cancellable, GError **error)
{
	if (fst_device_get_info(FST_DEVICE(self)) != NULL)
		return TRUE;
	return fst_nrf91_device_identify(FST_DEVICE(self), cancellable, error);
}

/* the COSE_Sign1 of %KEYGEN: its payload is the SHA-256 of the CSR (as is,
 * or as a CBOR byte string), and, with an attestation key, its ES256
 * signature must verify */
static gboolean
fst_nrf91_device_check_cose(FstNrf91Device *self, GBytes *csr, GBytes *cose, GError **error)
{
	g_autoptr(GBytes) prot = NULL;
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GBytes) tbs = NULL;
	g_autoptr(ECDSA_SIG) ecdsa = NULL;
	g_autoptr(EVP_MD_CTX) ctx = NULL;
	guint8 hash[SHA256_DIGEST_LENGTH];
	const guint8 *p;
	gsize len = 0;
	guint8 *der = NULL;
	int der_len;
	int ok;

	if (!fst_nrf91_cose_sign1_parse(cose, &prot, &payload, &sig, error)) {
		g_prefix_error(error, "%s: ", fst_nrf91_device_port(self));
		return FALSE;
	}
	SHA256(g_bytes_get_data(csr, NULL), g_bytes_get_size(csr), hash);
	p = g_bytes_get_data(payload, &len);
	if (len == 34 && p[0] == 0x58 && p[1] == 0x20) {
		p += 2;
		len -= 2;
	}
	if (len != sizeof(hash) || memcmp(p, hash, sizeof(hash)) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "%s: modem %s: the COSE signature of AT%%KEYGEN is not over the CSR it "
		            "sent (SHA-256 differs); the answer was altered or mixed up",
		            fst_nrf91_device_port(self),
		            fst_nrf91_device_uid(self));
		return FALSE;
	}
	if (self->attestation_key == NULL)
		return TRUE;

	/* ES256: r || s, 32 bytes each, to DER for OpenSSL */
	p = g_bytes_get_data(sig, &len);
	if (len != 64)
		goto bad_sig;
	ecdsa = ECDSA_SIG_new();
	if (ecdsa == NULL ||
	    ECDSA_SIG_set0(ecdsa, BN_bin2bn(p, 32, NULL), BN_bin2bn(p + 32, 32, NULL)) != 1)
		goto bad_sig;
	der_len = i2d_ECDSA_SIG(ecdsa, &der);
	if (der_len <= 0)
		goto bad_sig;
	tbs = fst_nrf91_cose_sig_structure(prot, payload);
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	     EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, self->attestation_key) == 1 &&
	     EVP_DigestVerify(
	         ctx, der, (gsize)der_len, g_bytes_get_data(tbs, NULL), g_bytes_get_size(tbs)) == 1;
	OPENSSL_free(der);
	ERR_clear_error();
	if (ok)
		return TRUE;
bad_sig:
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_VERIFY_FAILED,
	            "%s: modem %s: the COSE signature of AT%%KEYGEN does not verify with the "
	            "attestation key of the profile; the CSR does not come from a genuine "
	            "modem of this fleet",
	            fst_nrf91_device_port(self),
	            fst_nrf91_device_uid(self));
	return FALSE;
}

static GBytes *
fst_nrf91_device_generate_csr(
    FstDevice *device, guint slot, FstKeyType key_type, GCancellable *cancellable, GError **error)
{
	FstNrf91Device *self = FST_NRF91_DEVICE(device);
	g_autofree gchar *del = NULL;
	g_autofree gchar *keygen = NULL;
	g_autoptr(GPtrArray) lines = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) cose = NULL;
	g_autoptr(GError) error_local = NULL;

	if (key_type != FST_KEY_TYPE_EC_P256) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: an nRF91 modem makes P-256 keys only, not %s; use a profile with "
		            "key-types=ec-p256",
		            fst_nrf91_device_port(self),
		            fst_key_type_to_string(key_type));
		return NULL;
	}
	if (!fst_nrf91_device_ensure_identified(self, cancellable, error))
		return NULL;

	/* the modem makes no key in a sec_tag that has one: delete it first,
	 * where there is none the modem answers 513, which is fine */
	del = g_strdup_printf("AT%%CMNG=3,%u,%u", self->sec_tag, FST_NRF91_TYPE_CLIENT_KEY);
	lines =
	    fst_nrf91_device_at(self, del, del, FST_NRF91_PROC_FLASH, cancellable, &error_local);
	if (lines == NULL) {
		if (!g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_FOUND)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		g_clear_error(&error_local);
	}
	g_clear_pointer(&lines, g_ptr_array_unref);

	keygen = g_strdup_printf("AT%%KEYGEN=%u,%u,0", self->sec_tag, FST_NRF91_TYPE_CLIENT_KEY);
	lines =
	    fst_nrf91_device_at(self, keygen, keygen, FST_NRF91_PROC_KEYGEN, cancellable, error);
	if (lines == NULL)
		return NULL;
	for (guint i = 0; i < lines->len; i++) {
		const gchar *line = g_ptr_array_index(lines, i);
		if (!g_str_has_prefix(line, "%KEYGEN:"))
			continue;
		if (!fst_nrf91_at_parse_keygen(line, &csr, &cose, error)) {
			g_prefix_error(error, "%s: ", fst_nrf91_device_port(self));
			return NULL;
		}
		break;
	}
	if (csr == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: modem %s answered OK to %s without a %%KEYGEN line",
		            fst_nrf91_device_port(self),
		            fst_nrf91_device_uid(self),
		            keygen);
		return NULL;
	}
	if (g_bytes_get_size(csr) > 8192) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: the CSR of AT%%KEYGEN is %" G_GSIZE_FORMAT
		            " bytes, more than 8192",
		            fst_nrf91_device_port(self),
		            g_bytes_get_size(csr));
		return NULL;
	}
	if (!fst_nrf91_device_check_cose(self, csr, cose, error))
		return NULL;
	return g_steal_pointer(&csr);
}

/* the %CMNG type of an object kind; the modem has no separate CA chain
 * (the profile appends the issuing CA to the client certificate instead) */
static gboolean
fst_nrf91_device_type(FstNrf91Device *self, FstObjectKind kind, guint *type, GError **error)
{
	switch (kind) {
	case FST_OBJECT_DEVICE_CERT:
		*type = FST_NRF91_TYPE_CLIENT_CERT;
		return TRUE;
	case FST_OBJECT_TRUST_ROOTS:
		*type = FST_NRF91_TYPE_ROOT_CA;
		return TRUE;
	case FST_OBJECT_CA_CHAIN:
	case FST_OBJECT_LAST:
	default:
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: an nRF91 modem stores no separate %s; set append-ca=true and "
		            "leave ca-chain out of [burn] objects",
		            fst_nrf91_device_port(self),
		            fst_object_kind_to_string(kind));
		return FALSE;
	}
}

static gboolean
fst_nrf91_device_write_object(FstDevice *device,
                              guint slot,
                              FstObjectKind kind,
                              GBytes *data,
                              GCancellable *cancellable,
                              GError **error)
{
	FstNrf91Device *self = FST_NRF91_DEVICE(device);
	const gchar *pem;
	gsize len = 0;
	guint type = 0;
	g_autofree gchar *what = NULL;
	g_autoptr(GString) cmd = g_string_new(NULL);
	g_autoptr(GPtrArray) lines = NULL;

	if (!fst_nrf91_device_type(self, kind, &type, error))
		return FALSE;
	if (!fst_nrf91_device_ensure_identified(self, cancellable, error))
		return FALSE;
	pem = g_bytes_get_data(data, &len);
	if (len == 0 || len > FST_NRF91_CREDENTIAL_MAX) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_STORAGE_FULL,
		            "%s: %s is %" G_GSIZE_FORMAT
		            " bytes; an nRF91 credential holds 1 to %u",
		            fst_nrf91_device_port(self),
		            fst_object_kind_to_string(kind),
		            len,
		            FST_NRF91_CREDENTIAL_MAX);
		return FALSE;
	}
	/* PEM only, and no quote that would end the string early */
	for (gsize i = 0; i < len; i++) {
		if (pem[i] == '"' || (pem[i] < 0x20 && pem[i] != '\n' && pem[i] != '\r') ||
		    pem[i] > 0x7e) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_SUPPORTED,
			            "%s: an nRF91 modem stores PEM text, and %s is not; use "
			            "format=pem in the profile",
			            fst_nrf91_device_port(self),
			            fst_object_kind_to_string(kind));
			return FALSE;
		}
	}
	what = g_strdup_printf("AT%%CMNG=0,%u,%u (%s, %" G_GSIZE_FORMAT " bytes)",
	                       self->sec_tag,
	                       type,
	                       fst_object_kind_to_string(kind),
	                       len);
	g_string_append_printf(cmd, "AT%%CMNG=0,%u,%u,\"", self->sec_tag, type);
	g_string_append_len(cmd, pem, (gssize)len);
	g_string_append_c(cmd, '"');
	lines = fst_nrf91_device_at(self, cmd->str, what, FST_NRF91_PROC_FLASH, cancellable, error);
	return lines != NULL;
}

static GBytes *
fst_nrf91_device_digest_object(FstDevice *device,
                               guint slot,
                               FstObjectKind kind,
                               guint32 *length,
                               GCancellable *cancellable,
                               GError **error)
{
	FstNrf91Device *self = FST_NRF91_DEVICE(device);
	g_autofree gchar *cmd = NULL;
	g_autoptr(GPtrArray) lines = NULL;
	guint8 sha[32];
	guint type = 0;

	if (!fst_nrf91_device_type(self, kind, &type, error))
		return NULL;
	if (!fst_nrf91_device_ensure_identified(self, cancellable, error))
		return NULL;
	cmd = g_strdup_printf("AT%%CMNG=1,%u,%u", self->sec_tag, type);
	lines = fst_nrf91_device_at(self, cmd, cmd, FST_NRF91_PROC_FLASH, cancellable, error);
	if (lines == NULL)
		return NULL;
	if (lines->len == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "%s: modem %s holds no %s in sec_tag %u",
		            fst_nrf91_device_port(self),
		            fst_nrf91_device_uid(self),
		            fst_object_kind_to_string(kind),
		            self->sec_tag);
		return NULL;
	}
	if (lines->len != 1 || !fst_nrf91_at_parse_cmng_digest(
	                           g_ptr_array_index(lines, 0), self->sec_tag, type, sha, error)) {
		if (error != NULL && *error == NULL)
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_PROTOCOL,
			            "%s: the answer to %s lists %u credentials, not 1",
			            fst_nrf91_device_port(self),
			            cmd,
			            lines->len);
		g_prefix_error(error, "%s: ", fst_nrf91_device_port(self));
		return NULL;
	}
	/* the modem reports no length: the hash covers it */
	*length = FST_DEVICE_LENGTH_UNKNOWN;
	return g_bytes_new(sha, sizeof(sha));
}

static GBytes *
fst_nrf91_device_read_object(
    FstDevice *device, guint slot, FstObjectKind kind, GCancellable *cancellable, GError **error)
{
	FstNrf91Device *self = FST_NRF91_DEVICE(device);
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_NOT_SUPPORTED,
	            "%s: an nRF91 modem does not give its credentials back; it is verified by "
	            "the SHA-256 it reports (verify=digest)",
	            fst_nrf91_device_port(self));
	return NULL;
}

static gboolean
fst_nrf91_device_set_option(FstDevice *device, const gchar *key, const gchar *value, GError **error)
{
	FstNrf91Device *self = FST_NRF91_DEVICE(device);

	if (g_strcmp0(key, "sec-tag") == 0) {
		gchar *end = NULL;
		guint64 tag = g_ascii_strtoull(value, &end, 10);
		if (value[0] < '0' || value[0] > '9' || *end != '\0' || tag > G_MAXINT32) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "sec-tag '%s' is not a number from 0 to 2147483647",
			            value);
			return FALSE;
		}
		self->sec_tag = (guint32)tag;
		return TRUE;
	}
	if (g_strcmp0(key, "attestation-key") == 0) {
		g_autoptr(BIO) bio = BIO_new_file(value, "r");
		EVP_PKEY *pkey = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
		ERR_clear_error();
		if (pkey == NULL) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "attestation key %s is not a PEM public key",
			            value);
			return FALSE;
		}
		g_clear_pointer(&self->attestation_key, EVP_PKEY_free);
		self->attestation_key = pkey;
		return TRUE;
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_NOT_SUPPORTED,
	            "the nrf91 dialect has no option '%s' (it has sec-tag and attestation-key)",
	            key);
	return FALSE;
}

/**
 * fst_nrf91_device_set_timeout:
 * @self: an #FstNrf91Device
 * @base_timeout_ms: the base answer time; commands get a multiple of it
 */
void
fst_nrf91_device_set_timeout(FstNrf91Device *self, guint base_timeout_ms)
{
	g_return_if_fail(FST_IS_NRF91_DEVICE(self));
	self->base_timeout_ms = MAX(base_timeout_ms, 10u);
}

/**
 * fst_nrf91_device_get_sec_tag:
 * @self: an #FstNrf91Device
 *
 * Returns: the sec_tag the key and credentials go to
 */
guint32
fst_nrf91_device_get_sec_tag(FstNrf91Device *self)
{
	g_return_val_if_fail(FST_IS_NRF91_DEVICE(self), 0);
	return self->sec_tag;
}

static void
fst_nrf91_device_finalize(GObject *object)
{
	FstNrf91Device *self = FST_NRF91_DEVICE(object);
	g_clear_pointer(&self->attestation_key, EVP_PKEY_free);
	G_OBJECT_CLASS(fst_nrf91_device_parent_class)->finalize(object);
}

static void
fst_nrf91_device_init(FstNrf91Device *self)
{
	self->sec_tag = FST_NRF91_DEFAULT_SEC_TAG;
	self->base_timeout_ms = 1000;
}

static void
fst_nrf91_device_class_init(FstNrf91DeviceClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FstDeviceClass *device_class = FST_DEVICE_CLASS(klass);
	object_class->finalize = fst_nrf91_device_finalize;
	device_class->identify = fst_nrf91_device_identify;
	device_class->generate_csr = fst_nrf91_device_generate_csr;
	device_class->write_object = fst_nrf91_device_write_object;
	device_class->read_object = fst_nrf91_device_read_object;
	device_class->digest_object = fst_nrf91_device_digest_object;
	device_class->set_option = fst_nrf91_device_set_option;
}

/**
 * fst_nrf91_device_new:
 * @transport: an #FstTransport to the modem's AT UART, opened by the caller
 *
 * Returns: (transfer full): an nRF91 modem on @transport, dialect "nrf91"
 */
FstDevice *
fst_nrf91_device_new(FstTransport *transport)
{
	g_return_val_if_fail(FST_IS_TRANSPORT(transport), NULL);
	return g_object_new(
	    FST_TYPE_NRF91_DEVICE, "transport", transport, "dialect", FST_NRF91_DIALECT, NULL);
}
