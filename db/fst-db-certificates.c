/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstDb"

#include "fst-config.h"

#include "fst-db-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fst-crypto.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

/*
 * The station database (db/schema.md): certificates: recording, state moves, revocation,
 * superseding, key escrows, the CAs and profiles they name, and the queries over them.
 */

/* the id of profile @name with @sha256 (nullable), recorded on first use */
static gboolean
fst_db_ensure_profile_locked(FstDb *self,
                             const gchar *name,
                             const gchar *sha256,
                             gint64 now,
                             gint64 *profile_id,
                             GError **error)
{
	g_autoptr(FstDbStmt) ins = NULL;
	g_autoptr(FstDbStmt) sel = NULL;
	const gchar *what = "record the profile of a certificate";
	gboolean found = FALSE;
	gint rc;

	/* the same as the last certificate's: no read */
	if (self->last_profile_id > 0 && g_strcmp0(name, self->last_profile_name) == 0 &&
	    g_strcmp0(sha256, self->last_profile_sha256) == 0) {
		*profile_id = self->last_profile_id;
		return TRUE;
	}
	/* known after its first use: one read */
	sel = _fst_db_prepare(
	    self, "SELECT id FROM profiles WHERE name = ?1 AND content_sha256 IS ?2", what, error);
	if (sel == NULL)
		return FALSE;
	rc = sqlite3_bind_text(sel, 1, name, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(sel, 2, sha256, -1, SQLITE_TRANSIENT);
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_row(self, sel, &found, what, error))
		return FALSE;
	if (found) {
		*profile_id = sqlite3_column_int64(sel, 0);
		g_free(self->last_profile_name);
		g_free(self->last_profile_sha256);
		self->last_profile_name = g_strdup(name);
		self->last_profile_sha256 = g_strdup(sha256);
		self->last_profile_id = *profile_id;
		return TRUE;
	}
	ins = _fst_db_prepare(self,
	                      "INSERT INTO profiles (name, content_sha256, created_at) "
	                      "VALUES (?1, ?2, ?3) RETURNING id",
	                      what,
	                      error);
	if (ins == NULL)
		return FALSE;
	rc = sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(ins, 2, sha256, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(ins, 3, now);
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_row(self, ins, &found, what, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "recording profile %s in %s returned no id",
		            name,
		            self->path);
		return FALSE;
	}
	*profile_id = sqlite3_column_int64(ins, 0);
	return _fst_db_step_done(self, ins, what, error);
}

/*
 * A certificate's serial and SubjectPublicKeyInfo, found in its DER with
 * OpenSSL's bounded ASN.1 reader: Certificate ::= SEQUENCE { tbsCertificate
 * SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER, signature,
 * issuer, validity, subject, subjectPublicKeyInfo SEQUENCE, ... } ... }.
 * A full d2i_X509() costs more than the rest of the commit (it decodes the
 * public key). @serial_p and @spki_p point into @der; the SPKI with its
 * header.
 */
gboolean
_fst_db_der_fields(gconstpointer der,
                   gsize der_len,
                   const guchar **serial_p,
                   gsize *serial_len,
                   const guchar **spki_p,
                   gsize *spki_len)
{
	const guchar *p = der;
	const guchar *end = p + der_len;
	const guchar *start;
	long len = 0;
	gint tag = 0;
	gint xclass = 0;
	gint ret;

	ret = ASN1_get_object(&p, &len, &tag, &xclass, (long)der_len);
	if ((ret & 0x80) != 0 || tag != V_ASN1_SEQUENCE || p + len != end)
		goto fail;
	ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
	if ((ret & 0x80) != 0 || tag != V_ASN1_SEQUENCE)
		goto fail;
	end = p + len;
	ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
	if ((ret & 0x80) == 0 && xclass == V_ASN1_CONTEXT_SPECIFIC && tag == 0) {
		p += len;
		ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
	}
	if ((ret & 0x80) != 0 || xclass != V_ASN1_UNIVERSAL || tag != V_ASN1_INTEGER || len < 1)
		goto fail;
	*serial_p = p;
	*serial_len = (gsize)len;
	p += len;
	/* signature, issuer, validity, subject */
	for (guint i = 0; i < 4; i++) {
		ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
		if ((ret & 0x80) != 0 || tag != V_ASN1_SEQUENCE)
			goto fail;
		p += len;
	}
	start = p;
	ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
	if ((ret & 0x80) != 0 || xclass != V_ASN1_UNIVERSAL || tag != V_ASN1_SEQUENCE)
		goto fail;
	*spki_p = start;
	*spki_len = (gsize)(p + len - start);
	return TRUE;
fail:
	ERR_clear_error();
	return FALSE;
}

/*
 * The serial a certificate row is filed under must be the one in its DER:
 * then the unique serial also makes the DER (and its SHA-256, aws_cert_id)
 * unique, with no second unique index to write per certificate
 * (db/schema.md, "Size and cost"). Leading zeros do not count. Gives the
 * SHA-256 its public key is filed under (fst_crypto_public_key_sha256()).
 */
static gboolean
fst_db_check_der_serial(
    const gchar *serial, gconstpointer der, gsize der_len, guint8 key_sha256[32], GError **error)
{
	const guchar *p = NULL;
	const guchar *spki = NULL;
	gsize len = 0;
	gsize spki_len = 0;
	const gchar *want = serial;
	g_autoptr(GString) got = g_string_new(NULL);

	if (!_fst_db_der_fields(der, der_len, &p, &len, &spki, &spki_len) ||
	    len > FST_DB_MAX_SERIAL_HEX / 2 + 1) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s: its %" G_GSIZE_FORMAT " bytes are not one DER X.509 "
		            "certificate: refusing to record it",
		            serial,
		            der_len);
		return FALSE;
	}
	for (gsize k = 0; k < len; k++) {
		static const gchar hex[] = "0123456789ABCDEF";
		if (got->len > 0 || p[k] != 0) {
			g_string_append_c(got, hex[p[k] >> 4]);
			g_string_append_c(got, hex[p[k] & 0xf]);
		}
	}
	while (*want == '0')
		want++;
	if (got->str[0] == '0')
		g_string_erase(got, 0, 1);
	if (g_ascii_strcasecmp(want, got->str) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s: its DER has serial %s: refusing to record it under "
		            "another serial",
		            serial,
		            got->len > 0 ? got->str : "0");
		return FALSE;
	}
	fst_crypto_public_key_sha256(spki, spki_len, key_sha256);
	return TRUE;
}

/* the issuing CA's name, read from the certificate it issued: a new `cas`
 * row records it (the CA's own validity is not in the leaf) */
static gchar *
fst_db_issuer_name(gconstpointer der, gsize der_len)
{
	const guchar *p = der;
	g_autoptr(X509) x509 = d2i_X509(NULL, &p, (long)der_len);
	g_autoptr(BIO) bio = NULL;
	BUF_MEM *mem = NULL;

	if (x509 == NULL) {
		ERR_clear_error();
		return NULL;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL ||
	    X509_NAME_print_ex(bio, X509_get_issuer_name(x509), 0, XN_FLAG_RFC2253) < 0) {
		ERR_clear_error();
		return NULL;
	}
	BIO_get_mem_ptr(bio, &mem);
	return g_strndup(mem->data, MIN(mem->length, FST_DB_MAX_SUBJECT));
}

/* the id of the CA whose DER hashes to @sha256, recorded on first use */
static gboolean
fst_db_ensure_ca_locked(FstDb *self,
                        const gchar *sha256,
                        gconstpointer der,
                        gsize der_len,
                        gint64 now,
                        gint64 *ca_id,
                        GError **error)
{
	g_autoptr(FstDbStmt) sel = NULL;
	g_autoptr(FstDbStmt) ins = NULL;
	g_autofree gchar *subject = NULL;
	const gchar *what = "record the issuing CA";
	gboolean found = FALSE;
	gint rc;

	/* the same as the last certificate's: no read */
	if (self->last_ca_id > 0 && strcmp(sha256, self->last_ca_sha256) == 0) {
		*ca_id = self->last_ca_id;
		return TRUE;
	}
	sel = _fst_db_prepare(self, "SELECT id FROM cas WHERE sha256 = ?1", what, error);
	if (sel == NULL)
		return FALSE;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(sel, 1, sha256, -1, SQLITE_TRANSIENT), what, error) ||
	    !_fst_db_step_row(self, sel, &found, what, error))
		return FALSE;
	if (found) {
		*ca_id = sqlite3_column_int64(sel, 0);
		g_strlcpy(self->last_ca_sha256, sha256, sizeof(self->last_ca_sha256));
		self->last_ca_id = *ca_id;
		return TRUE;
	}
	subject = fst_db_issuer_name(der, der_len);
	if (subject != NULL && !g_utf8_validate(subject, -1, NULL))
		g_clear_pointer(&subject, g_free);
	ins = _fst_db_prepare(self,
	                      "INSERT INTO cas (sha256, subject, created_at) VALUES (?1, ?2, ?3) "
	                      "RETURNING id",
	                      what,
	                      error);
	if (ins == NULL)
		return FALSE;
	rc = sqlite3_bind_text(ins, 1, sha256, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(ins, 2, subject, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(ins, 3, now);
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_row(self, ins, &found, what, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "recording CA %s in %s returned no id",
		            sha256,
		            self->path);
		return FALSE;
	}
	*ca_id = sqlite3_column_int64(ins, 0);
	return _fst_db_step_done(self, ins, what, error);
}

/* the uid of the device key @key_sha256 is filed under, or %NULL (and no
 * error) when it is not filed; *@device_id its id */
static gboolean
fst_db_key_holder_locked(
    FstDb *self, const guint8 key_sha256[32], gint64 *device_id, gchar **uid, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "look up who holds a public key";
	gboolean found = FALSE;
	gint rc;

	*uid = NULL;
	*device_id = 0;
	stmt = _fst_db_prepare(self,
	                       "SELECT k.device_id, d.uid FROM device_keys k JOIN devices d "
	                       "ON d.id = k.device_id WHERE k.key_sha256 = ?1",
	                       what,
	                       error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_blob(stmt, 1, key_sha256, 32, SQLITE_STATIC);
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_row(self, stmt, &found, what, error))
		return FALSE;
	if (found) {
		*device_id = sqlite3_column_int64(stmt, 0);
		*uid = g_strdup((const gchar *)sqlite3_column_text(stmt, 1));
	}
	return TRUE;
}

/**
 * fst_db_set_key_reused:
 * @error: return location for a #GError
 * @what: what carries the key ("device X", "certificate Y of device X")
 * @key_sha256: the SHA-256 the key is filed under
 *   (fst_crypto_public_key_sha256())
 * @holder: the device that holds it, and where it is recorded when that is
 *   not this station ("X, by station A (certificate Y, central registry)")
 *
 * Sets the refusal of a key another device holds (%FST_ERROR_KEY_REUSED),
 * the one text of it for the station's records and the central registry.
 */
void
fst_db_set_key_reused(GError **error,
                      const gchar *what,
                      const guint8 key_sha256[32],
                      const gchar *holder)
{
	gchar hex[65];

	fst_crypto_hex_into(hex, sizeof(hex), key_sha256, 32, FALSE);
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_KEY_REUSED,
	            "the public key of %s (SPKI SHA-256 %s) is already certified for device %s: "
	            "no two devices may share a key; the board's key generator is not random, or "
	            "its key was copied from another board: set it aside",
	            what,
	            hex,
	            holder);
}

/*
 * One public key, one device (db/schema.md, "device_keys"): the key of a
 * certificate recorded for @device_id is filed under its SHA-256; a key
 * already filed for another device is refused with %FST_ERROR_KEY_REUSED,
 * with nothing written. Two devices with one key are two boards a single
 * key opens: a key generator that is not random (a seed fixed in the
 * firmware image, an entropy source not yet running) or a key copied with a
 * flash image. The migration to v8 files the keys recorded before with it.
 */
gboolean
_fst_db_record_key_locked(
    FstDb *self, gint64 device_id, const guint8 key_sha256[32], const gchar *serial, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "record a device's public key";
	g_autofree gchar *holder = NULL;
	g_autofree gchar *cert = NULL;
	gint64 holder_id = 0;
	gint rc;

	stmt = _fst_db_prepare(self,
	                       "INSERT INTO device_keys (key_sha256, device_id) VALUES (?1, ?2) "
	                       "ON CONFLICT (key_sha256) DO NOTHING",
	                       what,
	                       error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_blob(stmt, 1, key_sha256, 32, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(stmt, 2, device_id);
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_done(self, stmt, what, error))
		return FALSE;
	if (sqlite3_changes(self->db) > 0)
		return TRUE;
	/* filed already: this device's own key again (a new certificate for
	 * the key it keeps), or another device's */
	if (!fst_db_key_holder_locked(self, key_sha256, &holder_id, &holder, error))
		return FALSE;
	if (holder_id == device_id)
		return TRUE;
	cert = g_strdup_printf("certificate %s", serial);
	fst_db_set_key_reused(error, cert, key_sha256, holder != NULL ? holder : "?");
	return FALSE;
}

/**
 * fst_db_check_public_key:
 * @self: a database
 * @uid: the device the key is for
 * @spki: the key, a DER SubjectPublicKeyInfo as a certificate will carry it
 * @spki_len: its length
 * @error: (nullable): return location for a #GError
 *
 * Checks, before anything is signed for it, that @spki is not certified
 * for another device than @uid: for an issuer whose signature does not
 * stay on the station (AWS IoT keeps every certificate it makes). The
 * refusal that counts is the one of fst_db_add_certificate(), in the
 * transaction that records the certificate; this check only comes earlier.
 *
 * Returns: %FALSE with %FST_ERROR_KEY_REUSED when another device holds the key
 */
gboolean
fst_db_check_public_key(
    FstDb *self, const gchar *uid, gconstpointer spki, gsize spki_len, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autofree gchar *holder = NULL;
	g_autofree gchar *what = NULL;
	guint8 key_sha256[32];
	gint64 holder_id = 0;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(uid != NULL, FALSE);
	g_return_val_if_fail(spki != NULL, FALSE);

	fst_crypto_public_key_sha256(spki, spki_len, key_sha256);
	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_key_holder_locked(self, key_sha256, &holder_id, &holder, error))
		return FALSE;
	if (holder == NULL || g_strcmp0(holder, uid) == 0)
		return TRUE;
	what = g_strdup_printf("device %s", uid);
	fst_db_set_key_reused(error, what, key_sha256, holder);
	return FALSE;
}

/**
 * fst_db_get_key_holder:
 * @self: a database
 * @spki: a public key, a DER SubjectPublicKeyInfo
 * @spki_len: its length
 * @error: (nullable): return location for a #GError
 *
 * The device a certificate for @spki was recorded for: keys are filed as
 * fst_crypto_public_key_sha256() files them, so an EC point in either form
 * is the same key.
 *
 * Returns: (transfer full) (nullable): its uid, or %NULL (with @error unset
 *   when no device holds the key)
 */
gchar *
fst_db_get_key_holder(FstDb *self, gconstpointer spki, gsize spki_len, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	guint8 key_sha256[32];
	gint64 holder_id = 0;
	gchar *holder = NULL;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(spki != NULL, NULL);

	fst_crypto_public_key_sha256(spki, spki_len, key_sha256);
	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_key_holder_locked(self, key_sha256, &holder_id, &holder, error))
		return NULL;
	return holder;
}

/**
 * fst_db_add_certificate:
 * @self: an #FstDb
 * @device_id: the device it was issued to, from fst_db_begin_device()
 * @cert: the certificate; @cert->state is ignored, the row starts `issued`
 * @error: (nullable): return location for a #GError
 *
 * Records a newly issued certificate. The row is committed (durably, with
 * synchronous=FULL) when this returns, so it must be called before any byte
 * of it goes to the device: no certificate is ever burned unrecorded. The
 * pipeline logs it with fst_db_device_log_add_certificate() instead, and
 * commits it with the device row and the objects.
 *
 * `aws_cert_id` is the SHA-256 of the DER; it is computed when @cert leaves
 * it %NULL and checked when it does not.
 *
 * Fails with %FST_ERROR_INVALID_DATA for a bad serial, hash or field,
 * %FST_ERROR_NOT_FOUND for an unknown device, and %FST_ERROR_DATABASE when
 * the serial or the DER is already recorded.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_add_certificate(FstDb *self, gint64 device_id, const FstDbCert *cert, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *sha256 = NULL;
	g_autofree gchar *issuer = NULL;
	g_autofree gchar *profile_sha256 = NULL;
	g_autofree gchar *what = NULL;
	g_autofree gchar *detail = NULL;
	gint64 profile_id = 0;
	gint64 ca_id = 0;
	gconstpointer der;
	gsize der_len = 0;
	guint8 key_sha256[32];
	gint64 station_id = 0;
	gint64 now = g_get_real_time();
	gint rc;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(cert != NULL, FALSE);

	serial = _fst_db_normalize_hex(
	    "certificate serial", cert->serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return FALSE;
	der = cert->der != NULL ? g_bytes_get_data(cert->der, &der_len) : NULL;
	if (der_len == 0 || der_len > FST_DB_MAX_DER) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s has %" G_GSIZE_FORMAT
		            " bytes of DER, expected 1 to %u: refusing to record it",
		            serial,
		            der_len,
		            (guint)FST_DB_MAX_DER);
		return FALSE;
	}
	if (!fst_db_check_der_serial(serial, der, der_len, key_sha256, error))
		return FALSE;
	sha256 = fst_crypto_sha256_hex(der, der_len);
	if (cert->aws_cert_id != NULL && g_ascii_strcasecmp(cert->aws_cert_id, sha256) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s: aws_cert_id %.64s is not the SHA-256 of its DER (%s)",
		            serial,
		            cert->aws_cert_id,
		            sha256);
		return FALSE;
	}
	if (cert->issuer_sha256 != NULL) {
		issuer = _fst_db_normalize_hex("issuer SHA-256",
		                               cert->issuer_sha256,
		                               FST_DB_SHA256_HEX,
		                               FST_DB_SHA256_HEX,
		                               FALSE,
		                               error);
		if (issuer == NULL)
			return FALSE;
	}
	if (cert->profile_sha256 != NULL) {
		profile_sha256 = _fst_db_normalize_hex("profile SHA-256",
		                                       cert->profile_sha256,
		                                       FST_DB_SHA256_HEX,
		                                       FST_DB_SHA256_HEX,
		                                       FALSE,
		                                       error);
		if (profile_sha256 == NULL)
			return FALSE;
	}
	if (cert->slot < 0 || cert->slot > 1) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s names credential slot %d, expected 0 (A) or 1 (B)",
		            serial,
		            cert->slot);
		return FALSE;
	}
	if (!_fst_db_check_text(
	        "certificate subject", cert->subject, FST_DB_MAX_SUBJECT, FALSE, TRUE, error) ||
	    !_fst_db_check_text("key type", cert->key_type, FST_DB_MAX_NAME, FALSE, TRUE, error) ||
	    !_fst_db_check_text("profile", cert->profile, FST_DB_MAX_NAME, FALSE, TRUE, error))
		return FALSE;
	what = g_strdup_printf(
	    "record certificate %s for device %" G_GINT64_FORMAT, serial, device_id);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return FALSE;
	if (!_fst_db_require_device_locked(self, device_id, &station_id, error) ||
	    (cert->profile != NULL &&
	     !fst_db_ensure_profile_locked(
	         self, cert->profile, profile_sha256, now, &profile_id, error)) ||
	    (issuer != NULL &&
	     !fst_db_ensure_ca_locked(self, issuer, der, der_len, now, &ca_id, error)))
		return FALSE;
	stmt = _fst_db_prepare(self,
	                       "INSERT INTO certificates (device_id, serial_hex, aws_cert_id, der, "
	                       "subject, key_type, not_before, not_after, ca_id, state, slot, "
	                       "station_id, profile_id, operator_id, lot_id, created_at, "
	                       "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'issued', "
	                       "?16, ?11, ?13, ?14, ?15, ?12, ?12)",
	                       what,
	                       error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, device_id);
	rc |= sqlite3_bind_text(stmt, 2, serial, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 3, sha256, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_blob64(stmt, 4, der, der_len, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 5, cert->subject, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 6, cert->key_type, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 7, cert->not_before);
	rc |= sqlite3_bind_int64(stmt, 8, cert->not_after);
	rc |= _fst_db_bind_id(stmt, 9, ca_id);
	rc |= _fst_db_bind_id(stmt, 11, station_id);
	rc |= sqlite3_bind_int64(stmt, 12, now);
	rc |= _fst_db_bind_id(stmt, 13, profile_id);
	rc |= _fst_db_bind_id(stmt, 14, self->operator_id);
	rc |= _fst_db_bind_id(stmt, 15, self->lot_id);
	rc |= sqlite3_bind_int(stmt, 16, cert->slot);
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_done(self, stmt, what, error))
		return FALSE;
	_fst_db_remember_cert(
	    self, serial, sqlite3_last_insert_rowid(self->db), device_id, FST_CERT_STATE_ISSUED);
	if (!_fst_db_record_key_locked(self, device_id, key_sha256, serial, error))
		return FALSE;
	/* the registration queue gets it in the same transaction: never lost */
	if (cert->register_target != NULL &&
	    !_fst_db_queue_registration_locked(self,
	                                       sqlite3_last_insert_rowid(self->db),
	                                       cert->register_target,
	                                       cert->register_remote_id,
	                                       cert->register_remote_id != NULL &&
	                                           cert->register_done,
	                                       now,
	                                       error))
		return FALSE;
	/* the audit chain holds the certificate's hash from its first moment */
	detail = g_strdup_printf("certificate %s sha256 %s", serial, sha256);
	if (!_fst_db_insert_event_locked(
	        self, device_id, station_id, "certificate-issued", now, now, "ok", detail, error))
		return FALSE;
	return _fst_db_transaction_commit(&tx, what, error);
}

/* finds a certificate by normalised serial; *found is FALSE if it is not there */
gboolean
_fst_db_get_cert_locked(FstDb *self,
                        const gchar *serial,
                        gboolean *found,
                        gint64 *cert_id,
                        gint64 *device_id,
                        FstCertState *state,
                        GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "look up a certificate";
	const gchar *state_str;

	/* the objects of a certificate logged in the same commit */
	if (self->tx_cert_serial[0] != '\0' && g_strcmp0(serial, self->tx_cert_serial) == 0) {
		*found = TRUE;
		*cert_id = self->tx_cert_id;
		*device_id = self->tx_cert_device;
		*state = self->tx_cert_state;
		return TRUE;
	}
	stmt =
	    _fst_db_prepare(self,
	                    "SELECT id, device_id, state FROM certificates WHERE serial_hex = ?1",
	                    what,
	                    error);
	if (stmt == NULL)
		return FALSE;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_TRANSIENT), what, error))
		return FALSE;
	if (!_fst_db_step_row(self, stmt, found, what, error))
		return FALSE;
	if (!*found)
		return TRUE;
	*cert_id = sqlite3_column_int64(stmt, 0);
	*device_id = sqlite3_column_int64(stmt, 1);
	state_str = (const gchar *)sqlite3_column_text(stmt, 2);
	if (!_fst_cert_state_from_string(state_str, state)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "certificate %s in %s has unknown state '%s': restore the database "
		            "from a backup",
		            serial,
		            self->path,
		            state_str != NULL ? state_str : "(null)");
		return FALSE;
	}
	_fst_db_remember_cert(self, serial, *cert_id, *device_id, *state);
	return TRUE;
}

/* a `revoke` row per target the certificate has a `register` row for */
static gboolean
fst_db_queue_revoke_locked(FstDb *self, gint64 cert_id, gint64 now, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "queue a revoked certificate for revocation where it is registered";
	gint rc;

	stmt = _fst_db_prepare(
	    self,
	    "INSERT OR IGNORE INTO registrations (certificate_id, target, action, state, "
	    "created_at, updated_at) SELECT ?1, target, 'revoke', 'pending', ?2, ?2 FROM "
	    "registrations WHERE certificate_id = ?1 AND action = 'register' ORDER BY target",
	    what,
	    error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, cert_id);
	rc |= sqlite3_bind_int64(stmt, 2, now);
	if (!_fst_db_check_bind(self, rc, what, error))
		return FALSE;
	return _fst_db_step_done(self, stmt, what, error);
}

/* moves a certificate to @to and records an event; the caller holds a transaction */
gboolean
_fst_db_move_cert_locked(FstDb *self,
                         gint64 cert_id,
                         gint64 device_id,
                         const gchar *serial,
                         FstCertState from,
                         FstCertState to,
                         const gchar *reason,
                         const gchar *note,
                         GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what =
	    g_strdup_printf("set certificate %s to %s", serial, fst_cert_state_to_string(to));
	g_autofree gchar *detail = NULL;
	gint64 now = g_get_real_time();
	gint rc;

	if (!_fst_cert_state_can_move(from, to)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s is %s and cannot become %s: certificates only move "
		            "forward, only a verified or registered one can be superseded, and a "
		            "revoked one stays revoked",
		            serial,
		            fst_cert_state_to_string(from),
		            fst_cert_state_to_string(to));
		return FALSE;
	}
	if (from == to)
		return TRUE;
	if (to == FST_CERT_STATE_REVOKED && reason == NULL)
		reason = "unspecified";
	stmt = _fst_db_prepare(self,
	                       "UPDATE certificates SET state = ?1, updated_at = ?2, "
	                       "revoked_at = CASE WHEN ?1 = 'revoked' THEN ?2 ELSE revoked_at END, "
	                       "revocation_reason = ?4 WHERE id = ?3",
	                       what,
	                       error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_text(stmt, 1, fst_cert_state_to_string(to), -1, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(stmt, 2, now);
	rc |= sqlite3_bind_int64(stmt, 3, cert_id);
	rc |= sqlite3_bind_text(stmt, 4, reason, -1, SQLITE_TRANSIENT);
	if (!_fst_db_check_bind(self, rc, what, error))
		return FALSE;
	if (!_fst_db_step_done(self, stmt, what, error))
		return FALSE;
	if (self->tx_cert_id == cert_id && self->tx_cert_serial[0] != '\0')
		self->tx_cert_state = to;
	/* revoked where it is registered: one `revoke` row per target it has a
	 * `register` row for, in this transaction */
	if (to == FST_CERT_STATE_REVOKED && !fst_db_queue_revoke_locked(self, cert_id, now, error))
		return FALSE;
	detail = g_strdup_printf("certificate %s: %s -> %s%s%s%s%s%s%s",
	                         serial,
	                         fst_cert_state_to_string(from),
	                         fst_cert_state_to_string(to),
	                         reason != NULL ? " (reason: " : "",
	                         reason != NULL ? reason : "",
	                         reason != NULL ? ")" : "",
	                         note != NULL ? " (" : "",
	                         note != NULL ? note : "",
	                         note != NULL ? ")" : "");
	return _fst_db_insert_event_locked(
	    self, device_id, 0, "certificate-state", now, now, "ok", detail, error);
}

/**
 * fst_db_set_certificate_state:
 * @self: an #FstDb
 * @serial_hex: the certificate serial, any case
 * @state: the new state
 * @error: (nullable): return location for a #GError
 *
 * Moves a certificate forward (issued, burned, verified, registered) or to
 * revoked, and records a `certificate-state` event in the same transaction.
 * Setting the current state again does nothing.
 *
 * Fails with %FST_ERROR_NOT_FOUND for an unknown serial and
 * %FST_ERROR_INVALID_DATA for a move backwards or out of revoked.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_set_certificate_state(FstDb *self,
                             const gchar *serial_hex,
                             FstCertState state,
                             GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *what = NULL;
	FstCertState from = FST_CERT_STATE_ISSUED;
	gint64 cert_id = 0;
	gint64 device_id = 0;
	gboolean found = FALSE;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail((guint)state < FST_CERT_STATE_LAST, FALSE);

	serial = _fst_db_normalize_hex(
	    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return FALSE;
	what = g_strdup_printf("set certificate %s to %s", serial, fst_cert_state_to_string(state));

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return FALSE;
	if (!_fst_db_get_cert_locked(self, serial, &found, &cert_id, &device_id, &from, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "certificate %s is not in %s: record it with fst_db_add_certificate() "
		            "first",
		            serial,
		            self->path);
		return FALSE;
	}
	if (!_fst_db_move_cert_locked(
	        self, cert_id, device_id, serial, from, state, NULL, NULL, error))
		return FALSE;
	return _fst_db_transaction_commit(&tx, what, error);
}

/* the newest certificate in service (verified or registered) of a device;
 * *found is FALSE when it has none */
gboolean
_fst_db_get_active_cert_locked(
    FstDb *self, gint64 device_id, gboolean *found, gchar **serial, gint *slot, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "look up the certificate in service";

	stmt = _fst_db_prepare(self,
	                       "SELECT serial_hex, slot FROM certificates WHERE device_id = ?1 AND "
	                       "state IN ('verified', 'registered') ORDER BY id DESC LIMIT 1",
	                       what,
	                       error);
	if (stmt == NULL)
		return FALSE;
	if (!_fst_db_check_bind(self, sqlite3_bind_int64(stmt, 1, device_id), what, error))
		return FALSE;
	if (!_fst_db_step_row(self, stmt, found, what, error))
		return FALSE;
	if (*found) {
		*serial = _fst_db_column_strdup(stmt, 0);
		*slot = sqlite3_column_int(stmt, 1);
	}
	return TRUE;
}

/* looks up a certificate that must belong to @device_id: NOT_FOUND when it
 * is not recorded, INVALID_DATA when it is another device's */
static gboolean
fst_db_get_device_cert_locked(FstDb *self,
                              gint64 device_id,
                              const gchar *serial,
                              const gchar *purpose,
                              gint64 *cert_id,
                              FstCertState *state,
                              GError **error)
{
	gint64 cert_device = 0;
	gboolean found = FALSE;

	if (!_fst_db_get_cert_locked(self, serial, &found, cert_id, &cert_device, state, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "certificate %s is not in %s: cannot %s",
		            serial,
		            self->path,
		            purpose);
		return FALSE;
	}
	if (cert_device != device_id) {
		g_autofree gchar *uid = _fst_db_get_device_uid_locked(self, device_id);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s belongs to another device than %s: cannot %s",
		            serial,
		            uid,
		            purpose);
		return FALSE;
	}
	return TRUE;
}

/* @old moves to superseded (by @new_serial) and is queued for deactivation
 * wherever it is registered: one `deactivate` row per target it has a
 * `register` row for, or one with target `*` if it has none */
gboolean
_fst_db_supersede_locked(
    FstDb *self, gint64 device_id, const gchar *old_hex, const gchar *new_hex, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *old_serial = NULL;
	g_autofree gchar *new_serial = NULL;
	g_autofree gchar *note = NULL;
	g_autofree gchar *what = NULL;
	FstCertState from = FST_CERT_STATE_ISSUED;
	FstCertState new_state = FST_CERT_STATE_ISSUED;
	gint64 old_id = 0;
	gint64 new_id = 0;
	gint64 now = g_get_real_time();
	gint rc;

	old_serial = _fst_db_normalize_hex(
	    "superseded certificate serial", old_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (old_serial == NULL)
		return FALSE;
	new_serial = _fst_db_normalize_hex(
	    "superseding certificate serial", new_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (new_serial == NULL)
		return FALSE;
	if (g_strcmp0(old_serial, new_serial) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s cannot supersede itself",
		            old_serial);
		return FALSE;
	}
	what = g_strdup_printf("supersede certificate %s by %s", old_serial, new_serial);
	if (!fst_db_get_device_cert_locked(
	        self, device_id, new_serial, what, &new_id, &new_state, error) ||
	    !fst_db_get_device_cert_locked(
	        self, device_id, old_serial, what, &old_id, &from, error))
		return FALSE;
	if (from == FST_CERT_STATE_SUPERSEDED)
		return TRUE; /* already queued when it was superseded */
	note = g_strdup_printf("by %s", new_serial);
	if (!_fst_db_move_cert_locked(self,
	                              old_id,
	                              device_id,
	                              old_serial,
	                              from,
	                              FST_CERT_STATE_SUPERSEDED,
	                              NULL,
	                              note,
	                              error))
		return FALSE;
	stmt = _fst_db_prepare(
	    self,
	    "INSERT OR IGNORE INTO registrations (certificate_id, target, action, state, "
	    "created_at, updated_at) SELECT ?1, t.target, 'deactivate', 'pending', ?2, ?2 FROM "
	    "(SELECT DISTINCT target FROM registrations WHERE certificate_id = ?1 AND "
	    "action = 'register' UNION SELECT '*' WHERE NOT EXISTS (SELECT 1 FROM registrations "
	    "WHERE certificate_id = ?1 AND action = 'register')) t ORDER BY t.target",
	    what,
	    error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, old_id);
	rc |= sqlite3_bind_int64(stmt, 2, now);
	if (!_fst_db_check_bind(self, rc, what, error))
		return FALSE;
	return _fst_db_step_done(self, stmt, what, error);
}

/* the CMS EnvelopedData of a certificate's private key, encrypted to the
 * escrow certificate whose DER hashes to @recipient_hex; with an `escrow`
 * event that puts its hash in the audit chain */
gboolean
_fst_db_add_escrow_locked(FstDb *self,
                          gint64 device_id,
                          gint64 station_id,
                          const gchar *serial_hex,
                          const gchar *recipient_hex,
                          GBytes *cms,
                          GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *recipient = NULL;
	g_autofree gchar *what = NULL;
	g_autofree gchar *cms_sha256 = NULL;
	g_autofree gchar *detail = NULL;
	FstCertState state = FST_CERT_STATE_ISSUED;
	gint64 cert_id = 0;
	gint64 now = g_get_real_time();
	gconstpointer buf = NULL;
	gsize len = 0;
	gint rc;

	serial = _fst_db_normalize_hex(
	    "escrowed certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return FALSE;
	recipient = _fst_db_normalize_hex("escrow recipient SHA-256",
	                                  recipient_hex,
	                                  FST_DB_SHA256_HEX,
	                                  FST_DB_SHA256_HEX,
	                                  FALSE,
	                                  error);
	if (recipient == NULL)
		return FALSE;
	if (cms != NULL)
		buf = g_bytes_get_data(cms, &len);
	if (len == 0 || len > FST_DB_MAX_ESCROW) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the key escrow of certificate %s has %" G_GSIZE_FORMAT
		            " bytes of CMS, expected 1 to %u: refusing to record it",
		            serial,
		            len,
		            (guint)FST_DB_MAX_ESCROW);
		return FALSE;
	}
	what = g_strdup_printf("record the key escrow of certificate %s", serial);
	if (!fst_db_get_device_cert_locked(self, device_id, serial, what, &cert_id, &state, error))
		return FALSE;
	stmt = _fst_db_prepare(self,
	                       "INSERT INTO key_escrows (certificate_id, recipient_sha256, cms, "
	                       "created_at) VALUES (?1, ?2, ?3, ?4)",
	                       what,
	                       error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, cert_id);
	rc |= sqlite3_bind_text(stmt, 2, recipient, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_blob64(stmt, 3, buf, len, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 4, now);
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_done(self, stmt, what, error))
		return FALSE;
	cms_sha256 = fst_crypto_sha256_hex(buf, len);
	detail = g_strdup_printf(
	    "certificate %s: key escrowed to %s (cms sha256 %s, %" G_GSIZE_FORMAT " bytes)",
	    serial,
	    recipient,
	    cms_sha256,
	    len);
	return _fst_db_insert_event_locked(
	    self, device_id, station_id, "escrow", now, now, "ok", detail, error);
}

/**
 * fst_db_revoke_certificate:
 * @self: an #FstDb
 * @serial_hex: the certificate serial, any case
 * @reason: why, e.g. an RFC 5280 reason name such as "keyCompromise"; one line
 * @error: (nullable): return location for a #GError
 *
 * Marks a certificate `revoked` (final) with `revoked_at` = now and
 * `revocation_reason`, and records a `certificate-state` event naming the
 * reason, in one transaction. This records the decision; publishing it (CRL,
 * AWS IoT) is the caller's job.
 *
 * Fails with %FST_ERROR_NOT_FOUND for an unknown serial and
 * %FST_ERROR_INVALID_DATA for an empty reason or a certificate already
 * revoked (nothing changes: the first revocation stands).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_revoke_certificate(FstDb *self, const gchar *serial_hex, const gchar *reason, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *what = NULL;
	FstCertState from = FST_CERT_STATE_ISSUED;
	gint64 cert_id = 0;
	gint64 device_id = 0;
	gboolean found = FALSE;

	g_return_val_if_fail(self != NULL, FALSE);

	serial = _fst_db_normalize_hex(
	    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return FALSE;
	if (!_fst_db_check_text("revocation reason", reason, FST_DB_MAX_NAME, TRUE, TRUE, error))
		return FALSE;
	what = g_strdup_printf("revoke certificate %s", serial);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return FALSE;
	if (!_fst_db_get_cert_locked(self, serial, &found, &cert_id, &device_id, &from, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "certificate %s is not in %s: check the serial",
		            serial,
		            self->path);
		return FALSE;
	}
	if (from == FST_CERT_STATE_REVOKED) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s is already revoked: the first revocation and its "
		            "reason stand",
		            serial);
		return FALSE;
	}
	if (!_fst_db_move_cert_locked(self,
	                              cert_id,
	                              device_id,
	                              serial,
	                              from,
	                              FST_CERT_STATE_REVOKED,
	                              reason,
	                              NULL,
	                              error))
		return FALSE;
	return _fst_db_transaction_commit(&tx, what, error);
}

/* the columns of a certificate with its device, profile, operator and lot */
#define FST_DB_CERT_SELECT                                                                         \
	"SELECT c.id, c.serial_hex, c.der, c.aws_cert_id, c.subject, c.key_type, c.not_before, "   \
	"c.not_after, a.sha256, p.name, c.state, c.created_at, c.updated_at, "                     \
	"p.content_sha256, d.uid, o.name, l.name, c.revoked_at, c.revocation_reason, c.slot "      \
	"FROM certificates c JOIN devices d ON d.id = c.device_id "                                \
	"LEFT JOIN profiles p ON p.id = c.profile_id "                                             \
	"LEFT JOIN operators o ON o.id = c.operator_id "                                           \
	"LEFT JOIN lots l ON l.id = c.lot_id LEFT JOIN cas a ON a.id = c.ca_id "

static FstDbCert *
fst_db_cert_from_row(FstDb *self, sqlite3_stmt *stmt, GError **error)
{
	g_autoptr(FstDbCert) cert = g_new0(FstDbCert, 1);
	const gchar *state_str = (const gchar *)sqlite3_column_text(stmt, 10);
	gconstpointer der = sqlite3_column_blob(stmt, 2);
	gint der_len = sqlite3_column_bytes(stmt, 2);

	cert->id = sqlite3_column_int64(stmt, 0);
	cert->serial_hex = _fst_db_column_strdup(stmt, 1);
	cert->der = g_bytes_new(der, der != NULL ? (gsize)der_len : 0);
	cert->aws_cert_id = _fst_db_column_strdup(stmt, 3);
	cert->subject = _fst_db_column_strdup(stmt, 4);
	cert->key_type = _fst_db_column_strdup(stmt, 5);
	cert->not_before = sqlite3_column_int64(stmt, 6);
	cert->not_after = sqlite3_column_int64(stmt, 7);
	cert->issuer_sha256 = _fst_db_column_strdup(stmt, 8);
	cert->profile = _fst_db_column_strdup(stmt, 9);
	cert->created_at = sqlite3_column_int64(stmt, 11);
	cert->updated_at = sqlite3_column_int64(stmt, 12);
	cert->profile_sha256 = _fst_db_column_strdup(stmt, 13);
	cert->device_uid = _fst_db_column_strdup(stmt, 14);
	cert->operator_name = _fst_db_column_strdup(stmt, 15);
	cert->lot = _fst_db_column_strdup(stmt, 16);
	cert->revoked_at = sqlite3_column_int64(stmt, 17);
	cert->revocation_reason = _fst_db_column_strdup(stmt, 18);
	cert->slot = sqlite3_column_int(stmt, 19);
	if (!_fst_cert_state_from_string(state_str, &cert->state)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "certificate %s in %s has unknown state '%s': restore the "
		            "database from a backup",
		            cert->serial_hex,
		            self->path,
		            state_str != NULL ? state_str : "(null)");
		return NULL;
	}
	return g_steal_pointer(&cert);
}

/**
 * fst_db_foreach_certificate:
 * @self: an #FstDb
 * @filter: (nullable): which certificates; %NULL for all
 * @func: called with each certificate (transfer full), oldest first, with
 *   its device uid, profile hash, operator, lot and revocation filled in; it
 *   returns %FALSE to stop
 * @user_data: data for @func
 * @error: (nullable): return location for a #GError
 *
 * Goes through the certificates one row at a time, so that a listing of a
 * million of them holds one in memory, not all. @func runs with the
 * database's lock held: it must not call the database.
 *
 * Fails with %FST_ERROR_INVALID_DATA for an unknown state name, an issuer
 * that is not a SHA-256 in hex, or a serial that is not hex.
 *
 * Returns: %TRUE once every certificate was given (or @func stopped)
 */
gboolean
fst_db_foreach_certificate(FstDb *self,
                           const FstDbCertFilter *filter,
                           FstDbCertFunc func,
                           gpointer user_data,
                           GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(GString) sql = NULL;
	g_autofree gchar *issuer = NULL;
	g_autofree gchar *serial = NULL;
	const FstDbCertFilter none = {0};
	const gchar *what = "list certificates";
	FstCertState state = FST_CERT_STATE_ISSUED;
	gint rc;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(func != NULL, FALSE);

	if (filter == NULL)
		filter = &none;
	if (filter->state != NULL && !_fst_cert_state_from_string(filter->state, &state)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate state '%s' is not one of issued, burned, verified, "
		            "registered, superseded, revoked",
		            filter->state);
		return FALSE;
	}
	if (filter->issuer_sha256 != NULL) {
		issuer = _fst_db_normalize_hex("issuer SHA-256",
		                               filter->issuer_sha256,
		                               FST_DB_SHA256_HEX,
		                               FST_DB_SHA256_HEX,
		                               FALSE,
		                               error);
		if (issuer == NULL)
			return FALSE;
	}
	if (filter->serial_hex != NULL) {
		serial = _fst_db_normalize_hex("certificate serial",
		                               filter->serial_hex,
		                               1,
		                               FST_DB_MAX_SERIAL_HEX,
		                               TRUE,
		                               error);
		if (serial == NULL)
			return FALSE;
	}

	/* only the terms in use, so that SQLite can pick an index for them (a
	 * device's certificates by uid and certificates_device, a CA's by
	 * cas.sha256 and certificates_ca); the rest scan the table */
	sql = g_string_new(FST_DB_CERT_SELECT "WHERE 1");
	if (filter->device_uid != NULL)
		g_string_append(sql, " AND d.uid = ?1");
	if (filter->state != NULL)
		g_string_append(sql, " AND c.state = ?2");
	if (issuer != NULL)
		g_string_append(sql, " AND a.sha256 = ?3");
	if (filter->lot != NULL)
		g_string_append(sql, " AND l.name = ?4");
	if (filter->station_id > 0)
		g_string_append(sql, " AND c.station_id = ?5");
	if (filter->since_us > 0)
		g_string_append(sql, " AND c.created_at >= ?6");
	if (filter->until_us > 0)
		g_string_append(sql, " AND c.created_at < ?7");
	if (serial != NULL)
		g_string_append(sql, " AND c.serial_hex = ?8");
	g_string_append(sql, " ORDER BY c.id");

	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = _fst_db_prepare(self, sql->str, what, error);
	if (stmt == NULL)
		return FALSE;
	rc = SQLITE_OK;
	if (filter->device_uid != NULL)
		rc |= sqlite3_bind_text(stmt, 1, filter->device_uid, -1, SQLITE_TRANSIENT);
	if (filter->state != NULL)
		rc |=
		    sqlite3_bind_text(stmt, 2, fst_cert_state_to_string(state), -1, SQLITE_STATIC);
	if (issuer != NULL)
		rc |= sqlite3_bind_text(stmt, 3, issuer, -1, SQLITE_TRANSIENT);
	if (filter->lot != NULL)
		rc |= sqlite3_bind_text(stmt, 4, filter->lot, -1, SQLITE_TRANSIENT);
	if (filter->station_id > 0)
		rc |= sqlite3_bind_int64(stmt, 5, filter->station_id);
	if (filter->since_us > 0)
		rc |= sqlite3_bind_int64(stmt, 6, filter->since_us);
	if (filter->until_us > 0)
		rc |= sqlite3_bind_int64(stmt, 7, filter->until_us);
	if (serial != NULL)
		rc |= sqlite3_bind_text(stmt, 8, serial, -1, SQLITE_TRANSIENT);
	if (!_fst_db_check_bind(self, rc, what, error))
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbCert *cert = fst_db_cert_from_row(self, stmt, error);
		if (cert == NULL)
			return FALSE;
		if (!func(cert, user_data))
			return TRUE;
	}
	if (rc != SQLITE_DONE) {
		_fst_db_set_error(self, error, rc, "trying to %s", what);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_db_list_certificates_add(FstDbCert *cert, gpointer user_data)
{
	g_ptr_array_add(user_data, cert);
	return TRUE;
}

/**
 * fst_db_list_certificates:
 * @self: an #FstDb
 * @filter: (nullable): which certificates; %NULL for all
 * @error: (nullable): return location for a #GError
 *
 * fst_db_foreach_certificate() into memory: for the few certificates of a
 * device, a CA's revocations or one serial, not for listings.
 *
 * Returns: (transfer full) (element-type FstDbCert): the certificates, or
 * %NULL on error
 */
GPtrArray *
fst_db_list_certificates(FstDb *self, const FstDbCertFilter *filter, GError **error)
{
	g_autoptr(GPtrArray) certs =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_db_cert_free);

	g_return_val_if_fail(self != NULL, NULL);
	if (!fst_db_foreach_certificate(self, filter, fst_db_list_certificates_add, certs, error))
		return NULL;
	return g_steal_pointer(&certs);
}

/**
 * fst_db_count_certificates_by_issuer:
 * @self: an #FstDb
 * @issuer_sha256: SHA-256 of the issuing CA certificate DER, any case
 * @error: (nullable): return location for a #GError
 *
 * Counts every certificate recorded as issued by that CA, whatever its state
 * (revoked and failed attempts included): what the CA has signed.
 *
 * Returns: the count (>= 0), or -1 on error
 */
gint64
fst_db_count_certificates_by_issuer(FstDb *self, const gchar *issuer_sha256, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *issuer = NULL;
	const gchar *what = "count certificates by issuer";
	gboolean found = FALSE;

	g_return_val_if_fail(self != NULL, -1);

	issuer = _fst_db_normalize_hex(
	    "issuer SHA-256", issuer_sha256, FST_DB_SHA256_HEX, FST_DB_SHA256_HEX, FALSE, error);
	if (issuer == NULL)
		return -1;
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = _fst_db_prepare(self,
	                       "SELECT count(*) FROM certificates c JOIN cas a ON a.id = c.ca_id "
	                       "WHERE a.sha256 = ?1",
	                       what,
	                       error);
	if (stmt == NULL)
		return -1;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, issuer, -1, SQLITE_TRANSIENT), what, error) ||
	    !_fst_db_step_row(self, stmt, &found, what, error))
		return -1;
	return found ? sqlite3_column_int64(stmt, 0) : 0;
}

/* every certificate of @device_id whose attempt may have reached the device
 * but was not finished (issued, burned) moves to interrupted */
gboolean
_fst_db_interrupt_certificates_locked(FstDb *self, gint64 device_id, GError **error)
{
	g_autoptr(GPtrArray) serials = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(GArray) states = g_array_new(FALSE, FALSE, sizeof(FstCertState));
	const gchar *what = "flag the certificates of an interrupted attempt";
	gint rc;

	{
		g_autoptr(FstDbStmt) stmt = NULL;
		stmt =
		    _fst_db_prepare(self,
		                    "SELECT id, serial_hex, state FROM certificates WHERE "
		                    "device_id = ?1 AND state IN ('issued', 'burned') ORDER BY id",
		                    what,
		                    error);
		if (stmt == NULL ||
		    !_fst_db_check_bind(self, sqlite3_bind_int64(stmt, 1, device_id), what, error))
			return FALSE;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			gint64 id = sqlite3_column_int64(stmt, 0);
			FstCertState state = FST_CERT_STATE_ISSUED;
			_fst_cert_state_from_string((const gchar *)sqlite3_column_text(stmt, 2),
			                            &state);
			g_array_append_val(ids, id);
			g_array_append_val(states, state);
			g_ptr_array_add(serials, _fst_db_column_strdup(stmt, 1));
		}
		if (rc != SQLITE_DONE)
			return _fst_db_set_error(self, error, rc, "trying to %s", what);
	}
	for (guint i = 0; i < ids->len; i++) {
		if (!_fst_db_move_cert_locked(self,
		                              g_array_index(ids, gint64, i),
		                              device_id,
		                              g_ptr_array_index(serials, i),
		                              g_array_index(states, FstCertState, i),
		                              FST_CERT_STATE_INTERRUPTED,
		                              NULL,
		                              "the station stopped during its attempt",
		                              error))
			return FALSE;
	}
	return TRUE;
}

/* the certificates of interrupted attempts of @device_id are superseded by
 * @new_serial, now that the device was provisioned again */
gboolean
_fst_db_supersede_interrupted_locked(FstDb *self,
                                     gint64 device_id,
                                     const gchar *new_serial,
                                     GError **error)
{
	g_autoptr(GPtrArray) serials = g_ptr_array_new_with_free_func(g_free);
	const gchar *what = "supersede the certificates of interrupted attempts";
	gint rc;

	{
		g_autoptr(FstDbStmt) stmt = NULL;
		stmt = _fst_db_prepare(self,
		                       "SELECT serial_hex FROM certificates WHERE device_id = ?1 "
		                       "AND state = 'interrupted' ORDER BY id",
		                       what,
		                       error);
		if (stmt == NULL ||
		    !_fst_db_check_bind(self, sqlite3_bind_int64(stmt, 1, device_id), what, error))
			return FALSE;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			g_ptr_array_add(serials, _fst_db_column_strdup(stmt, 0));
		if (rc != SQLITE_DONE)
			return _fst_db_set_error(self, error, rc, "trying to %s", what);
	}
	for (guint i = 0; i < serials->len; i++) {
		if (!_fst_db_supersede_locked(
		        self, device_id, g_ptr_array_index(serials, i), new_serial, error))
			return FALSE;
	}
	return TRUE;
}

/**
 * fst_db_get_escrow:
 * @self: an #FstDb
 * @serial_hex: the certificate serial, any case
 * @recipient_sha256: (out) (optional) (transfer full): SHA-256 of the DER
 *   of the escrow certificate the CMS is encrypted to
 * @error: (nullable): return location for a #GError
 *
 * Reads the key escrow of a certificate (fst_db_device_log_add_escrow()).
 *
 * Fails with %FST_ERROR_NOT_FOUND when the certificate has no escrow (or is
 * not recorded), %FST_ERROR_INVALID_DATA for a bad serial.
 *
 * Returns: (transfer full): the DER CMS EnvelopedData, or %NULL on error
 */
GBytes *
fst_db_get_escrow(FstDb *self, const gchar *serial_hex, gchar **recipient_sha256, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *what = NULL;
	gboolean found = FALSE;
	GBytes *cms;

	g_return_val_if_fail(self != NULL, NULL);

	serial = _fst_db_normalize_hex(
	    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return NULL;
	what = g_strdup_printf("read the key escrow of certificate %s", serial);
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = _fst_db_prepare(self,
	                       "SELECT e.recipient_sha256, e.cms FROM key_escrows e JOIN "
	                       "certificates c ON c.id = e.certificate_id WHERE c.serial_hex = ?1",
	                       what,
	                       error);
	if (stmt == NULL)
		return NULL;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_TRANSIENT), what, error) ||
	    !_fst_db_step_row(self, stmt, &found, what, error))
		return NULL;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "certificate %s has no key escrow in %s",
		            serial,
		            self->path);
		return NULL;
	}
	cms = g_bytes_new(sqlite3_column_blob(stmt, 1), (gsize)sqlite3_column_bytes(stmt, 1));
	if (recipient_sha256 != NULL)
		*recipient_sha256 = _fst_db_column_strdup(stmt, 0);
	return cms;
}

/**
 * fst_db_get_active_certificate:
 * @self: an #FstDb
 * @device_uid: the device uid
 * @error: (nullable): return location for a #GError
 *
 * Finds the certificate a device is using: its newest certificate in state
 * verified or registered, with its credential slot. The station uses it to
 * recognise a returning device.
 *
 * Returns: (transfer full) (nullable): the certificate, or %NULL without an
 * error when the device is unknown or has none in service; %NULL with
 * @error set on failure
 */
FstDbCert *
fst_db_get_active_certificate(FstDb *self, const gchar *device_uid, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what = NULL;
	gboolean found = FALSE;

	g_return_val_if_fail(self != NULL, NULL);

	if (!_fst_db_check_text("device uid", device_uid, FST_DB_MAX_NAME, TRUE, TRUE, error))
		return NULL;
	what = g_strdup_printf("look up the certificate in service of device %s", device_uid);
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = _fst_db_prepare(self,
	                       FST_DB_CERT_SELECT "WHERE d.uid = ?1 AND c.state IN ('verified', "
	                                          "'registered') ORDER BY c.id DESC LIMIT 1",
	                       what,
	                       error);
	if (stmt == NULL)
		return NULL;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, device_uid, -1, SQLITE_TRANSIENT), what, error) ||
	    !_fst_db_step_row(self, stmt, &found, what, error))
		return NULL;
	if (!found)
		return NULL;
	return fst_db_cert_from_row(self, stmt, error);
}
