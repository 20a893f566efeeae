/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The trust catalogue: the root CAs a device may get so that it can validate
 * the servers it talks to, each pinned by the SHA-256 of its DER in a list
 * file, plus the roots a user adds to a workspace (checked by subject, key
 * and signature against the pinned ones), and the decision sequence that
 * picks the roots a given device gets, with the reason for those it leaves
 * out. The list file format, the checks and the sequence are documented in
 * templates/trust/README.md.
 */

#define G_LOG_DOMAIN "FstTrust"

#include "fst-trust.h"

#include "fst-x509.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "fst-error.h"
#include "fst-openssl-common.h"

#define FST_TRUST_LIST_NAME "roots.list"
/* a root certificate PEM is 1-2 KiB; the list is a few lines */
#define FST_TRUST_MAX_FILE (64 * 1024)
#define FST_TRUST_MAX_ROOTS 64

#define FST_TRUST_PEM_HEADER "-----BEGIN CERTIFICATE-----\n"
#define FST_TRUST_PEM_FOOTER "-----END CERTIFICATE-----\n"

struct _FstTrustCatalogue {
	gchar *dir;       /* (owned) */
	GPtrArray *roots; /* (owned) (element-type FstTrustRoot) */
};

static const struct {
	FstTrustRole role;
	const gchar *name;
} fst_trust_roles[] = {
    {FST_TRUST_ROLE_ATS_PRIMARY, "ats-primary"},
    {FST_TRUST_ROLE_ATS_RESERVED, "ats-reserved"},
    {FST_TRUST_ROLE_ATS_STARFIELD, "ats-starfield"},
    {FST_TRUST_ROLE_LEGACY, "legacy"},
    {FST_TRUST_ROLE_USER, "user"},
};

/**
 * fst_trust_role_to_string:
 * @role: an #FstTrustRole
 *
 * Returns: (transfer none): the role's name as written in the catalogue list
 */
const gchar *
fst_trust_role_to_string(FstTrustRole role)
{
	for (guint i = 0; i < G_N_ELEMENTS(fst_trust_roles); i++) {
		if (fst_trust_roles[i].role == role)
			return fst_trust_roles[i].name;
	}
	return "unknown";
}

static gboolean
fst_trust_role_from_string(const gchar *str, FstTrustRole *role)
{
	for (guint i = 0; i < G_N_ELEMENTS(fst_trust_roles); i++) {
		/* user roots come from the workspace, never from the list */
		if (fst_trust_roles[i].role == FST_TRUST_ROLE_USER)
			continue;
		if (g_strcmp0(fst_trust_roles[i].name, str) == 0) {
			*role = fst_trust_roles[i].role;
			return TRUE;
		}
	}
	return FALSE;
}

static void
fst_trust_root_free(FstTrustRoot *root)
{
	if (root == NULL)
		return;
	g_free(root->name);
	X509_free(root->cert);
	if (root->der != NULL)
		g_bytes_unref(root->der);
	g_free(root->sha256);
	g_free(root->signed_by);
	g_free(root);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstTrustRoot, fst_trust_root_free)

static gboolean
fst_trust_is_hex64(const gchar *str)
{
	if (strlen(str) != 64)
		return FALSE;
	for (const gchar *p = str; *p != '\0'; p++) {
		if (!g_ascii_isxdigit(*p))
			return FALSE;
	}
	return TRUE;
}

static gboolean
fst_trust_is_plain_filename(const gchar *name)
{
	return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL &&
	       strchr(name, '\\') == NULL;
}

/* reads a small file, refusing anything larger than FST_TRUST_MAX_FILE */
static GBytes *
fst_trust_read_file(const gchar *path, GError **error)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &contents, &len, error)) {
		fst_error_convert_gio(error);
		return NULL;
	}
	if (len > FST_TRUST_MAX_FILE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s is %" G_GSIZE_FORMAT " bytes, too large for a root certificate "
		            "or the catalogue list",
		            path,
		            len);
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&contents), len);
}

/* parses one PEM certificate file; also accepts DER so a .der root can be listed */
static X509 *
fst_trust_parse_cert(GBytes *blob, const gchar *path, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(blob, &len);
	g_autoptr(BIO) bio = BIO_new_mem_buf(data, (int)len);
	X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);

	if (cert == NULL) {
		const guint8 *p = data;
		ERR_clear_error();
		cert = d2i_X509(NULL, &p, (long)len);
	}
	if (cert == NULL) {
		fst_error_set_openssl(
		    error, FST_ERROR_INVALID_DATA, "%s is not a PEM or DER certificate", path);
		return NULL;
	}
	return cert;
}

/* the end of a certificate's validity, unix seconds; 0 if unreadable */
static gint64
fst_trust_cert_not_after(X509 *cert)
{
	struct tm tm = {0};
	g_autoptr(GDateTime) dt = NULL;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return 0;
	dt = g_date_time_new_utc(
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return dt != NULL ? g_date_time_to_unix(dt) : 0;
}

/* the root's name: the file name without its certificate extension */
static gchar *
fst_trust_name_from_filename(const gchar *filename)
{
	if (g_str_has_suffix(filename, ".pem") || g_str_has_suffix(filename, ".der") ||
	    g_str_has_suffix(filename, ".crt"))
		return g_strndup(filename, strlen(filename) - 4);
	return g_strdup(filename);
}

/* which FstValidation flag a device needs to use a root with this key */
static gboolean
fst_trust_root_set_key_info(FstTrustRoot *root, const gchar *path, GError **error)
{
	EVP_PKEY *pkey = X509_get0_pubkey(root->cert);
	gchar group[64] = {0};

	if (pkey == NULL) {
		fst_error_set_openssl(
		    error, FST_ERROR_INVALID_DATA, "%s: cannot read the public key", path);
		return FALSE;
	}
	root->key_bits = (guint)EVP_PKEY_get_bits(pkey);
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
		root->validation = FST_VALIDATION_RSA_PKCS1;
		return TRUE;
	}
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(
	        pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) == 1) {
		if (g_strcmp0(group, "prime256v1") == 0) {
			root->validation = FST_VALIDATION_ECDSA_P256;
			return TRUE;
		}
		if (g_strcmp0(group, "secp384r1") == 0) {
			root->validation = FST_VALIDATION_ECDSA_P384;
			return TRUE;
		}
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_CONFIG,
	            "%s: the root's key (%s %s) is not one a device can validate (RSA, ECDSA "
	            "P-256 or P-384): remove it from the catalogue",
	            path,
	            EVP_PKEY_get0_type_name(pkey) != NULL ? EVP_PKEY_get0_type_name(pkey) : "?",
	            group);
	return FALSE;
}

static FstTrustRoot *
fst_trust_root_load(const gchar *dir,
                    const gchar *filename,
                    const gchar *expected_sha256,
                    FstTrustRole role,
                    GError **error)
{
	g_autofree gchar *path = g_build_filename(dir, filename, NULL);
	g_autoptr(FstTrustRoot) root = g_new0(FstTrustRoot, 1);
	g_autoptr(GBytes) blob = NULL;
	guint8 *der = NULL;
	int der_len;

	blob = fst_trust_read_file(path, error);
	if (blob == NULL) {
		g_prefix_error(error, "trust root listed in %s: ", FST_TRUST_LIST_NAME);
		return NULL;
	}
	root->cert = fst_trust_parse_cert(blob, path, error);
	if (root->cert == NULL)
		return NULL;
	der_len = i2d_X509(root->cert, &der);
	if (der_len <= 0) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "%s: cannot encode as DER", path);
		return NULL;
	}
	root->der = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	root->sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, root->der);
	if (g_ascii_strcasecmp(root->sha256, expected_sha256) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "trust root %s has DER SHA-256 %s but %s pins %s: the file was "
		            "changed; restore it from the fleetstation release",
		            path,
		            root->sha256,
		            FST_TRUST_LIST_NAME,
		            expected_sha256);
		return NULL;
	}
	if (!fst_trust_root_set_key_info(root, path, error))
		return NULL;
	root->role = role;
	root->not_after = fst_trust_cert_not_after(root->cert);
	root->name = fst_trust_name_from_filename(filename);
	return g_steal_pointer(&root);
}

static gboolean
fst_trust_catalogue_parse_list(FstTrustCatalogue *self, GHashTable *listed, GError **error)
{
	g_autofree gchar *list_path = g_build_filename(self->dir, FST_TRUST_LIST_NAME, NULL);
	g_autoptr(GBytes) blob = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	gsize len = 0;
	const gchar *data;

	blob = fst_trust_read_file(list_path, error);
	if (blob == NULL) {
		g_prefix_error(error, "cannot read the trust catalogue list: ");
		return FALSE;
	}
	data = g_bytes_get_data(blob, &len);
	text = g_strndup(data, len);
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) fields = NULL;
		g_autoptr(GPtrArray) parts = g_ptr_array_new();
		FstTrustRole role;
		FstTrustRoot *root;
		gchar *line = g_strstrip(lines[i]);

		if (line[0] == '\0' || line[0] == '#')
			continue;
		fields = g_strsplit_set(line, " \t", -1);
		for (guint j = 0; fields[j] != NULL; j++) {
			if (fields[j][0] != '\0')
				g_ptr_array_add(parts, fields[j]);
		}
		if (parts->len != 3 || !fst_trust_is_hex64(g_ptr_array_index(parts, 0)) ||
		    !fst_trust_is_plain_filename(g_ptr_array_index(parts, 1))) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s line %u: expected \"<sha256 of DER> <file> <role>\"",
			            list_path,
			            i + 1);
			return FALSE;
		}
		if (!fst_trust_role_from_string(g_ptr_array_index(parts, 2), &role)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s line %u: unknown role '%s' (known: ats-primary, "
			            "ats-reserved, ats-starfield, legacy)",
			            list_path,
			            i + 1,
			            (const gchar *)g_ptr_array_index(parts, 2));
			return FALSE;
		}
		if (g_hash_table_contains(listed, g_ptr_array_index(parts, 1))) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s line %u: %s is listed twice",
			            list_path,
			            i + 1,
			            (const gchar *)g_ptr_array_index(parts, 1));
			return FALSE;
		}
		if (self->roots->len >= FST_TRUST_MAX_ROOTS) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s lists more than %u roots",
			            list_path,
			            (guint)FST_TRUST_MAX_ROOTS);
			return FALSE;
		}
		root = fst_trust_root_load(self->dir,
		                           g_ptr_array_index(parts, 1),
		                           g_ptr_array_index(parts, 0),
		                           role,
		                           error);
		if (root == NULL)
			return FALSE;
		g_ptr_array_add(self->roots, root);
		g_hash_table_add(listed, g_strdup(g_ptr_array_index(parts, 1)));
	}
	if (self->roots->len == 0) {
		g_set_error(error, FST_ERROR, FST_ERROR_CONFIG, "%s lists no root CA", list_path);
		return FALSE;
	}
	return TRUE;
}

/* a certificate file in the folder that the list does not pin could be a
 * planted root: refuse to run rather than ignore it */
static gboolean
fst_trust_catalogue_check_unlisted(FstTrustCatalogue *self, GHashTable *listed, GError **error)
{
	g_autoptr(GDir) dir = g_dir_open(self->dir, 0, error);
	const gchar *name;

	if (dir == NULL) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = NULL;
		g_autofree gchar *sha256 = NULL;
		g_autoptr(GBytes) blob = NULL;
		g_autoptr(X509) cert = NULL;

		if (!g_str_has_suffix(name, ".pem") && !g_str_has_suffix(name, ".der") &&
		    !g_str_has_suffix(name, ".crt"))
			continue;
		if (g_hash_table_contains(listed, name))
			continue;
		path = g_build_filename(self->dir, name, NULL);
		blob = fst_trust_read_file(path, NULL);
		if (blob != NULL)
			cert = fst_trust_parse_cert(blob, path, NULL);
		ERR_clear_error();
		if (cert != NULL) {
			guint8 *der = NULL;
			int der_len = i2d_X509(cert, &der);
			if (der_len > 0) {
				sha256 = g_compute_checksum_for_data(
				    G_CHECKSUM_SHA256, der, (gsize)der_len);
				OPENSSL_free(der);
			}
		}
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "%s is in the trust folder but %s does not pin it (its DER SHA-256 "
		            "is %s, expected: none): remove the file or add it to the list with "
		            "its role",
		            path,
		            FST_TRUST_LIST_NAME,
		            sha256 != NULL ? sha256 : "unknown, not a certificate");
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_trust_catalogue_load:
 * @dir: the trust folder, e.g. templates/trust
 * @error: (nullable): return location
 *
 * Loads every root listed in `@dir/roots.list` and checks each file's DER
 * SHA-256 against the list. A changed file, or a certificate file the list
 * does not pin, is %FST_ERROR_VERIFY_FAILED naming the file and both hashes;
 * a malformed list is %FST_ERROR_CONFIG; a missing file %FST_ERROR_NOT_FOUND.
 *
 * Returns: (transfer full): a new catalogue, or %NULL with @error set
 */
FstTrustCatalogue *
fst_trust_catalogue_load(const gchar *dir, GError **error)
{
	g_autoptr(FstTrustCatalogue) self = g_new0(FstTrustCatalogue, 1);
	g_autoptr(GHashTable) listed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	g_return_val_if_fail(dir != NULL, NULL);

	self->dir = g_strdup(dir);
	self->roots = g_ptr_array_new_with_free_func((GDestroyNotify)fst_trust_root_free);
	if (!fst_trust_catalogue_parse_list(self, listed, error))
		return NULL;
	if (!fst_trust_catalogue_check_unlisted(self, listed, error))
		return NULL;
	g_debug("loaded %u trust roots from %s", self->roots->len, dir);
	return g_steal_pointer(&self);
}

/**
 * fst_trust_catalogue_free:
 * @self: (nullable) (transfer full): a catalogue
 *
 * Frees the catalogue and every root in it: arrays returned by
 * fst_trust_select() must not outlive it.
 */
void
fst_trust_catalogue_free(FstTrustCatalogue *self)
{
	if (self == NULL)
		return;
	g_free(self->dir);
	if (self->roots != NULL)
		g_ptr_array_unref(self->roots);
	g_free(self);
}

/**
 * fst_trust_catalogue_get_roots:
 * @self: a catalogue
 *
 * Returns: (transfer none) (element-type FstTrustRoot): every root, in list order
 */
GPtrArray *
fst_trust_catalogue_get_roots(FstTrustCatalogue *self)
{
	return self->roots;
}

/**
 * fst_trust_catalogue_find:
 * @self: a catalogue
 * @name: a root's file stem, e.g. "AmazonRootCA3"
 *
 * Returns: (transfer none) (nullable): the root, or %NULL if there is none
 */
const FstTrustRoot *
fst_trust_catalogue_find(FstTrustCatalogue *self, const gchar *name)
{
	for (guint i = 0; i < self->roots->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(self->roots, i);
		if (g_strcmp0(root->name, name) == 0)
			return root;
	}
	return NULL;
}

/**
 * fst_trust_catalogue_find_sha256:
 * @self: a catalogue
 * @sha256: the SHA-256 of a root's DER, hex
 *
 * Returns: (transfer none) (nullable): the root, or %NULL if there is none
 */
const FstTrustRoot *
fst_trust_catalogue_find_sha256(FstTrustCatalogue *self, const gchar *sha256)
{
	for (guint i = 0; i < self->roots->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(self->roots, i);
		if (g_ascii_strcasecmp(root->sha256, sha256) == 0)
			return root;
	}
	return NULL;
}

/* a certificate name as one line, in GLib memory */
static gchar *
fst_trust_name_to_string(const X509_NAME *name)
{
	gchar *tmp = X509_NAME_oneline(name, NULL, 0);
	gchar *str = g_strdup(tmp != NULL ? tmp : "?");
	OPENSSL_free(tmp);
	return str;
}

/* a user root must carry the subject and key of a catalogue root (it is
 * another certificate for that root, e.g. a cross-sign) and the signature
 * of a catalogue root (the one it names as issuer): then a device that
 * trusts it trusts nothing the catalogue did not already stand for */
static gboolean
fst_trust_user_root_check(FstTrustCatalogue *self,
                          FstTrustRoot *root,
                          const gchar *path,
                          GError **error)
{
	EVP_PKEY *pkey = X509_get0_pubkey(root->cert);
	const FstTrustRoot *same = NULL;
	const FstTrustRoot *signer = NULL;
	gboolean issuer_known = FALSE;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *issuer = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	subject = fst_trust_name_to_string(X509_get_subject_name(root->cert));
	issuer = fst_trust_name_to_string(X509_get_issuer_name(root->cert));
	if (X509_check_ca(root->cert) < 1) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "%s (%s) is not a CA certificate: remove it from the trust folder",
		            path,
		            subject);
		return FALSE;
	}
	for (guint i = 0; i < self->roots->len; i++) {
		const FstTrustRoot *r = g_ptr_array_index(self->roots, i);
		EVP_PKEY *rkey = X509_get0_pubkey(r->cert);
		if (r->role == FST_TRUST_ROLE_USER)
			continue;
		if (g_bytes_equal(r->der, root->der)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s is %s, which the catalogue has already: remove the copy",
			            path,
			            r->name);
			return FALSE;
		}
		if (same == NULL &&
		    X509_NAME_cmp(X509_get_subject_name(r->cert),
		                  X509_get_subject_name(root->cert)) == 0 &&
		    pkey != NULL && rkey != NULL && EVP_PKEY_eq(pkey, rkey) == 1)
			same = r;
		if (signer == NULL && X509_NAME_cmp(X509_get_subject_name(r->cert),
		                                    X509_get_issuer_name(root->cert)) == 0) {
			issuer_known = TRUE;
			if (rkey != NULL && X509_verify(root->cert, rkey) == 1)
				signer = r;
			ERR_clear_error();
		}
	}
	if (same == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "%s (%s) does not have the subject and key of a catalogue root: only "
		            "another certificate of a catalogue root (e.g. a cross-signed Amazon "
		            "root) may be added; remove the file",
		            path,
		            subject);
		return FALSE;
	}
	if (signer == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "%s (%s) names issuer %s, %s: the certificate is forged or from "
		            "another CA; remove the file",
		            path,
		            subject,
		            issuer,
		            issuer_known ? "but that catalogue root's signature does not verify"
		                         : "which is not a catalogue root");
		return FALSE;
	}
	if (root->not_after <= now) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "%s (%s) has expired: remove the file",
		            path,
		            subject);
		return FALSE;
	}
	root->signed_by = g_strdup(signer->name);
	g_debug("user root %s: %s, signed by %s", root->name, same->name, signer->name);
	return TRUE;
}

/**
 * fst_trust_catalogue_add_user_roots:
 * @self: a catalogue
 * @dir: a folder of user-supplied roots, e.g. WORKSPACE/trust; may not exist
 * @error: (nullable): return location
 *
 * Adds each certificate file (`.pem`, `.der`, `.crt`) of @dir as a root of
 * role %FST_TRUST_ROLE_USER, named by its file stem, once it is checked: a
 * CA certificate with the subject and public key of a catalogue root,
 * signed by the catalogue root it names as issuer (Amazon's cross-signed
 * roots, signed by Starfield, are the model), and not expired. Anything
 * else (a forged signature, an unknown key) stops the load with
 * %FST_ERROR_VERIFY_FAILED naming the file, as a planted root must never
 * reach a device; a name the catalogue has is %FST_ERROR_CONFIG.
 *
 * Returns: %TRUE if every file was added (or @dir does not exist)
 */
gboolean
fst_trust_catalogue_add_user_roots(FstTrustCatalogue *self, const gchar *dir, GError **error)
{
	g_autoptr(GDir) gdir = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(dir != NULL, FALSE);

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
		return TRUE;
	gdir = g_dir_open(dir, 0, error);
	if (gdir == NULL) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	while ((name = g_dir_read_name(gdir)) != NULL) {
		if (name[0] == '.')
			continue;
		if (g_str_has_suffix(name, ".pem") || g_str_has_suffix(name, ".der") ||
		    g_str_has_suffix(name, ".crt"))
			g_ptr_array_add(names, g_strdup(name));
	}
	/* the same catalogue order whatever the directory order */
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	for (guint i = 0; i < names->len; i++) {
		const gchar *filename = g_ptr_array_index(names, i);
		g_autofree gchar *path = g_build_filename(dir, filename, NULL);
		g_autoptr(FstTrustRoot) root = g_new0(FstTrustRoot, 1);
		g_autoptr(GBytes) blob = NULL;
		guint8 *der = NULL;
		int der_len;

		if (self->roots->len >= FST_TRUST_MAX_ROOTS) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: more than %u roots in all",
			            dir,
			            (guint)FST_TRUST_MAX_ROOTS);
			return FALSE;
		}
		root->name = fst_trust_name_from_filename(filename);
		if (fst_trust_catalogue_find(self, root->name) != NULL) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_CONFIG,
			    "%s: the catalogue has a root named %s already; rename the file",
			    path,
			    root->name);
			return FALSE;
		}
		blob = fst_trust_read_file(path, error);
		if (blob == NULL)
			return FALSE;
		root->cert = fst_trust_parse_cert(blob, path, error);
		if (root->cert == NULL)
			return FALSE;
		der_len = i2d_X509(root->cert, &der);
		if (der_len <= 0) {
			fst_error_set_openssl(
			    error, FST_ERROR_INTERNAL, "%s: cannot encode as DER", path);
			return FALSE;
		}
		root->der = g_bytes_new(der, (gsize)der_len);
		OPENSSL_free(der);
		root->sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, root->der);
		root->role = FST_TRUST_ROLE_USER;
		root->not_after = fst_trust_cert_not_after(root->cert);
		if (!fst_trust_root_set_key_info(root, path, error))
			return FALSE;
		if (!fst_trust_user_root_check(self, root, path, error))
			return FALSE;
		g_ptr_array_add(self->roots, g_steal_pointer(&root));
	}
	return TRUE;
}

/**
 * fst_trust_root_encoded_size:
 * @root: a root
 * @format: how the device stores certificates
 *
 * The PEM size is that of the canonical encoding fst_trust_roots_encode()
 * writes: header and footer lines, base64 in 64-column lines, each ending in
 * a newline.
 *
 * Returns: how many bytes @root takes on the device in @format
 */
gsize
fst_trust_root_encoded_size(const FstTrustRoot *root, FstCredFormat format)
{
	gsize der_len = g_bytes_get_size(root->der);
	gsize b64_len;

	if (format == FST_CRED_FORMAT_DER)
		return der_len;
	b64_len = 4 * ((der_len + 2) / 3);
	return strlen(FST_TRUST_PEM_HEADER) + b64_len + (b64_len + 63) / 64 +
	       strlen(FST_TRUST_PEM_FOOTER);
}

/**
 * fst_trust_roots_encode:
 * @roots: (element-type FstTrustRoot): roots, e.g. from fst_trust_select()
 * @format: how the device stores certificates
 *
 * Concatenates the roots in order: DER certificates back to back, or PEM
 * blocks. The size is the sum of fst_trust_root_encoded_size().
 *
 * Returns: (transfer full): the trust roots object to burn
 */
GBytes *
fst_trust_roots_encode(GPtrArray *roots, FstCredFormat format)
{
	g_autoptr(GPtrArray) ders = g_ptr_array_sized_new(roots->len);
	for (guint i = 0; i < roots->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(roots, i);
		g_ptr_array_add(ders, root->der);
	}
	return fst_x509_bundle_encode(ders, format);
}

typedef struct {
	FstCredFormat format;
} FstTrustSortHelper;

static gint
fst_trust_sort_by_size_cb(gconstpointer a, gconstpointer b, gpointer user_data)
{
	const FstTrustRoot *ra = *(const FstTrustRoot *const *)a;
	const FstTrustRoot *rb = *(const FstTrustRoot *const *)b;
	FstTrustSortHelper *helper = user_data;
	gsize sa = fst_trust_root_encoded_size(ra, helper->format);
	gsize sb = fst_trust_root_encoded_size(rb, helper->format);

	if (sa != sb)
		return sa < sb ? -1 : 1;
	/* stable output for equal sizes */
	return g_strcmp0(ra->name, rb->name);
}

static gint
fst_trust_sort_by_name_cb(gconstpointer a, gconstpointer b)
{
	const FstTrustRoot *ra = *(const FstTrustRoot *const *)a;
	const FstTrustRoot *rb = *(const FstTrustRoot *const *)b;
	return g_strcmp0(ra->name, rb->name);
}

static gsize
fst_trust_total_size(GPtrArray *roots, FstCredFormat format)
{
	gsize total = 0;
	for (guint i = 0; i < roots->len; i++)
		total += fst_trust_root_encoded_size(g_ptr_array_index(roots, i), format);
	return total;
}

static const gchar *
fst_trust_format_to_string(FstCredFormat format)
{
	return format == FST_CRED_FORMAT_DER ? "DER" : "PEM";
}

/* a byte count with thousands separators, "2,048", as the records show it */
static gchar *
fst_trust_format_bytes(gsize n)
{
	g_autofree gchar *digits = g_strdup_printf("%" G_GSIZE_FORMAT, n);
	GString *str = g_string_new(NULL);
	gsize len = strlen(digits);

	for (gsize i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			g_string_append_c(str, ',');
		g_string_append_c(str, digits[i]);
	}
	return g_string_free(str, FALSE);
}

/* "RSA", "ECDSA P-256 and P-384", "RSA and ECDSA P-256" */
static gchar *
fst_trust_validation_words(guint validation)
{
	g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);
	gchar *ec = NULL;

	if (validation & FST_VALIDATION_RSA_PKCS1)
		g_ptr_array_add(words, g_strdup("RSA"));
	if ((validation & FST_VALIDATION_ECDSA_P256) && (validation & FST_VALIDATION_ECDSA_P384))
		ec = g_strdup("ECDSA P-256 and P-384");
	else if (validation & FST_VALIDATION_ECDSA_P256)
		ec = g_strdup("ECDSA P-256");
	else if (validation & FST_VALIDATION_ECDSA_P384)
		ec = g_strdup("ECDSA P-384");
	if (ec != NULL)
		g_ptr_array_add(words, ec);
	if (words->len == 0)
		return g_strdup("no signature algorithm");
	g_ptr_array_add(words, NULL);
	return g_strjoinv(" and ", (gchar **)words->pdata);
}

/**
 * fst_trust_roots_label:
 * @roots: (element-type FstTrustRoot): roots
 *
 * A short label for a set of roots in records and reports: the Amazon
 * roots by number ("CA 3/4"), any other by name ("CA 1, SFSRootCAG2").
 *
 * Returns: (transfer full): the label, "" for no root
 */
gchar *
fst_trust_roots_label(GPtrArray *roots)
{
	g_autoptr(GString) amazon = g_string_new(NULL);
	g_autoptr(GString) str = g_string_new(NULL);
	g_autoptr(GPtrArray) sorted = g_ptr_array_new();

	for (guint i = 0; i < roots->len; i++)
		g_ptr_array_add(sorted, g_ptr_array_index(roots, i));
	g_ptr_array_sort(sorted, fst_trust_sort_by_name_cb);
	for (guint i = 0; i < sorted->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(sorted, i);
		const gchar *num = NULL;
		if (g_str_has_prefix(root->name, "AmazonRootCA"))
			num = root->name + strlen("AmazonRootCA");
		if (num != NULL && num[0] != '\0' && strspn(num, "0123456789") == strlen(num)) {
			g_string_append(amazon, amazon->len == 0 ? "CA " : "/");
			g_string_append(amazon, num);
		} else {
			if (str->len > 0)
				g_string_append(str, ", ");
			g_string_append(str, root->name);
		}
	}
	if (amazon->len > 0 && str->len > 0)
		g_string_prepend(str, ", ");
	g_string_prepend(str, amazon->str);
	return g_string_free(g_steal_pointer(&str), FALSE);
}

/* moves the roots of @set that @drop_cb picks to @dropped */
static void
fst_trust_drop_if(GPtrArray *set,
                  GPtrArray *dropped,
                  gboolean (*drop_cb)(const FstTrustRoot *root, guint validation),
                  guint validation)
{
	for (guint i = 0; i < set->len;) {
		FstTrustRoot *root = g_ptr_array_index(set, i);
		if (drop_cb(root, validation)) {
			g_ptr_array_add(dropped, root);
			g_ptr_array_remove_index(set, i);
			continue;
		}
		i++;
	}
}

static gboolean
fst_trust_cannot_validate_cb(const FstTrustRoot *root, guint validation)
{
	return (root->validation & validation) == 0;
}

static gboolean
fst_trust_is_reserved_cb(const FstTrustRoot *root, guint validation)
{
	return root->role == FST_TRUST_ROLE_ATS_RESERVED;
}

static FstTrustSelection *
fst_trust_selection_new(GPtrArray *roots, GPtrArray *notes, const gchar *fallback)
{
	FstTrustSelection *self = g_new0(FstTrustSelection, 1);

	self->roots = g_ptr_array_ref(roots);
	if (notes != NULL && notes->len > 0) {
		g_ptr_array_add(notes, NULL);
		self->reason = g_strjoinv("; ", (gchar **)notes->pdata);
		g_ptr_array_remove_index(notes, notes->len - 1);
	} else {
		self->reason = g_strdup(fallback);
	}
	return self;
}

/**
 * fst_trust_selection_free:
 * @self: (nullable) (transfer full): a selection
 *
 * Frees the selection; the roots in it belong to the catalogue.
 */
void
fst_trust_selection_free(FstTrustSelection *self)
{
	if (self == NULL)
		return;
	if (self->roots != NULL)
		g_ptr_array_unref(self->roots);
	g_free(self->reason);
	g_free(self);
}

static gboolean
fst_trust_storage_full(GError **error,
                       const FstTrustRoot *smallest,
                       FstCredFormat format,
                       guint32 budget,
                       gboolean profile_budget,
                       const gchar *what)
{
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_STORAGE_FULL,
	            "trust roots need at least %" G_GSIZE_FORMAT " bytes (%s %s), %s %u: %s",
	            fst_trust_root_encoded_size(smallest, format),
	            smallest->name,
	            fst_trust_format_to_string(format),
	            profile_budget ? "the profile's [trust] budget allows" : "device has",
	            (guint)budget,
	            what);
	return FALSE;
}

/* a profile's explicit list: exactly those roots, in its order */
static FstTrustSelection *
fst_trust_select_pinned(FstTrustCatalogue *self,
                        const FstTrustOptions *options,
                        guint validation,
                        FstCredFormat format,
                        guint32 budget,
                        gboolean profile_budget,
                        GError **error)
{
	g_autoptr(GPtrArray) set = g_ptr_array_new();
	g_autoptr(GPtrArray) unusable = g_ptr_array_new();
	g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *free_str = fst_trust_format_bytes(budget);
	gsize total;

	for (guint i = 0; options->roots[i] != NULL; i++) {
		FstTrustRoot *root = NULL;
		for (guint j = 0; j < self->roots->len; j++) {
			FstTrustRoot *r = g_ptr_array_index(self->roots, j);
			if (g_strcmp0(r->name, options->roots[i]) == 0)
				root = r;
		}
		if (root == NULL) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_CONFIG,
			    "the profile's [trust] roots names %s, which the trust catalogue "
			    "does not have: see `fleetstation roots list`",
			    options->roots[i]);
			return NULL;
		}
		if (g_ptr_array_find(set, root, NULL))
			continue;
		g_ptr_array_add(set, root);
		if ((root->validation & validation) == 0)
			g_ptr_array_add(unusable, root);
	}
	if (unusable->len == set->len) {
		g_autofree gchar *can = fst_trust_validation_words(validation);
		g_autofree gchar *label = fst_trust_roots_label(set);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "the device validates %s, and none of the roots the profile pins (%s) "
		            "uses it: the device could not validate its endpoint",
		            can,
		            label);
		return NULL;
	}
	total = fst_trust_total_size(set, format);
	if (total > budget) {
		g_autofree gchar *label = fst_trust_roots_label(set);
		g_autofree gchar *need = fst_trust_format_bytes(total);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_STORAGE_FULL,
		            "the roots the profile pins (%s) need %s bytes %s, %s %s: pin fewer "
		            "roots, store DER or free space on the device",
		            label,
		            need,
		            fst_trust_format_to_string(format),
		            profile_budget ? "the profile's [trust] budget allows" : "device has",
		            free_str);
		return NULL;
	}
	g_ptr_array_add(notes, g_strdup("pinned by the profile ([trust] roots)"));
	if (unusable->len > 0) {
		g_autofree gchar *label = fst_trust_roots_label(unusable);
		g_autofree gchar *can = fst_trust_validation_words(validation);
		g_ptr_array_add(
		    notes,
		    g_strdup_printf("%s burned though the device validates %s only", label, can));
	}
	return fst_trust_selection_new(set, notes, NULL);
}

/**
 * fst_trust_select_explain:
 * @self: a catalogue
 * @options: the profile's trust options
 * @validation: the #FstValidation flags of the device's TLS stack
 * @format: how the device stores certificates
 * @capacity: bytes the device has for the trust roots object
 * @error: (nullable): return location
 *
 * Picks the roots a device gets, as AWS advises for server authentication
 * (rules in templates/trust/README.md). A profile that pins roots gets
 * exactly those. Otherwise, for the ATS endpoint: every Amazon root CA; if
 * they do not fit in @capacity (or the profile's budget), the roots the
 * device cannot validate are left out; still over, the reserved ones; still
 * over, all but the smallest root the device validates. Starfield is added
 * last if asked for and it fits. The legacy endpoint gets VeriSign G5.
 *
 * Fails with %FST_ERROR_NOT_SUPPORTED if the device can validate no root its
 * endpoint uses, %FST_ERROR_STORAGE_FULL naming the sizes if not even one
 * root it can validate fits, and %FST_ERROR_CONFIG if a pinned root is not
 * in the catalogue: a device never gets less than it needs to validate its
 * endpoint without an error.
 *
 * Returns: (transfer full): the roots (ATS: smallest first) and the reason
 * for what was left out, or %NULL with @error set
 */
FstTrustSelection *
fst_trust_select_explain(FstTrustCatalogue *self,
                         const FstTrustOptions *options,
                         guint validation,
                         FstCredFormat format,
                         guint32 capacity,
                         GError **error)
{
	g_autoptr(GPtrArray) set = g_ptr_array_new();
	g_autoptr(GPtrArray) excluded = g_ptr_array_new();
	g_autoptr(GPtrArray) primary = g_ptr_array_new();
	g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
	FstTrustRoot *starfield = NULL;
	FstTrustRoot *legacy = NULL;
	FstTrustSortHelper helper = {.format = format};
	gboolean profile_budget = options->budget > 0 && options->budget < capacity;
	guint32 budget = profile_budget ? options->budget : capacity;
	g_autofree gchar *free_str = fst_trust_format_bytes(budget);
	const gchar *free_what = profile_budget ? "bytes allowed by the profile" : "bytes free";
	gsize total;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(options != NULL, NULL);

	if (options->roots != NULL && options->roots[0] != NULL)
		return fst_trust_select_pinned(
		    self, options, validation, format, budget, profile_budget, error);

	for (guint i = 0; i < self->roots->len; i++) {
		FstTrustRoot *root = g_ptr_array_index(self->roots, i);
		switch (root->role) {
		case FST_TRUST_ROLE_ATS_PRIMARY:
			g_ptr_array_add(set, root);
			if ((root->validation & validation) != 0)
				g_ptr_array_add(primary, root);
			break;
		case FST_TRUST_ROLE_ATS_RESERVED:
			g_ptr_array_add(options->include_reserved ? set : excluded, root);
			break;
		case FST_TRUST_ROLE_ATS_STARFIELD:
			if (starfield == NULL)
				starfield = root;
			break;
		case FST_TRUST_ROLE_LEGACY:
			if (legacy == NULL && (root->validation & validation) != 0)
				legacy = root;
			break;
		case FST_TRUST_ROLE_USER:
		default:
			break;
		}
	}

	/* the legacy endpoint has one root */
	if (options->endpoint == FST_TRUST_ENDPOINT_LEGACY) {
		g_autoptr(GPtrArray) one = g_ptr_array_new();
		g_autofree gchar *can = fst_trust_validation_words(validation);
		if (legacy == NULL) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_NOT_SUPPORTED,
			    "the device validates %s, but no root of the legacy endpoint uses "
			    "it: the device cannot reach that endpoint",
			    can);
			return NULL;
		}
		if (fst_trust_root_encoded_size(legacy, format) > budget) {
			fst_trust_storage_full(error,
			                       legacy,
			                       format,
			                       budget,
			                       profile_budget,
			                       "free space on the device or store DER");
			return NULL;
		}
		g_ptr_array_add(one, legacy);
		return fst_trust_selection_new(
		    one, NULL, "legacy endpoint: its VeriSign root only, no ATS root");
	}

	/* the device must be able to validate the endpoint at all */
	if (primary->len == 0) {
		g_autofree gchar *can = fst_validation_to_string(validation);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "the device validates %s, but no root of the ATS endpoint uses it: "
		            "the device cannot reach that endpoint",
		            can[0] != '\0' ? can : "no signature algorithm");
		return NULL;
	}
	g_ptr_array_sort_with_data(set, fst_trust_sort_by_size_cb, &helper);
	g_ptr_array_sort_with_data(primary, fst_trust_sort_by_size_cb, &helper);
	if (excluded->len > 0) {
		g_autofree gchar *label = fst_trust_roots_label(excluded);
		g_ptr_array_add(notes,
		                g_strdup_printf("%s omitted: the profile leaves out the reserved "
		                                "roots (include-reserved=false)",
		                                label));
	}

	/* over: leave out the family the device cannot validate */
	total = fst_trust_total_size(set, format);
	if (total > budget) {
		g_autoptr(GPtrArray) dropped = g_ptr_array_new();
		fst_trust_drop_if(set, dropped, fst_trust_cannot_validate_cb, validation);
		if (dropped->len > 0) {
			g_autofree gchar *label = fst_trust_roots_label(dropped);
			g_autofree gchar *can = fst_trust_validation_words(validation);
			g_autofree gchar *need = fst_trust_format_bytes(total);
			g_ptr_array_add(
			    notes,
			    g_strdup_printf("%s omitted: device validates %s only, %s %s, "
			                    "all need %s",
			                    label,
			                    can,
			                    free_str,
			                    free_what,
			                    need));
		}
	}

	/* still over: leave out the reserved roots */
	total = fst_trust_total_size(set, format);
	if (total > budget) {
		g_autoptr(GPtrArray) dropped = g_ptr_array_new();
		fst_trust_drop_if(set, dropped, fst_trust_is_reserved_cb, validation);
		if (dropped->len > 0) {
			g_autofree gchar *label = fst_trust_roots_label(dropped);
			g_autofree gchar *need = fst_trust_format_bytes(total);
			g_ptr_array_add(
			    notes,
			    g_strdup_printf("%s omitted: reserved for future use, %s %s, "
			                    "with %s %s needed",
			                    label,
			                    free_str,
			                    free_what,
			                    dropped->len == 1 ? "it" : "them",
			                    need));
		}
	}

	/* still over: one root the device validates is enough to reach the
	 * endpoint; below that, refuse with the numbers */
	total = fst_trust_total_size(set, format);
	if (total > budget) {
		FstTrustRoot *smallest = g_ptr_array_index(primary, 0);
		g_autoptr(GPtrArray) dropped = g_ptr_array_new();
		g_autofree gchar *label = NULL;
		g_autofree gchar *kept = NULL;
		g_autofree gchar *need = fst_trust_format_bytes(total);
		if (fst_trust_root_encoded_size(smallest, format) > budget) {
			fst_trust_storage_full(error,
			                       smallest,
			                       format,
			                       budget,
			                       profile_budget,
			                       "free space on the device or store DER");
			return NULL;
		}
		for (guint i = 0; i < set->len; i++) {
			if (g_ptr_array_index(set, i) != smallest)
				g_ptr_array_add(dropped, g_ptr_array_index(set, i));
		}
		g_ptr_array_set_size(set, 0);
		g_ptr_array_add(set, smallest);
		label = fst_trust_roots_label(dropped);
		kept = fst_trust_roots_label(set);
		g_ptr_array_add(notes,
		                g_strdup_printf("%s omitted: %s alone is enough to validate the "
		                                "endpoint, %s %s, both need %s",
		                                label,
		                                kept,
		                                free_str,
		                                free_what,
		                                need));
	}

	/* Starfield, if asked for, when it is usable and fits */
	if (options->include_starfield && starfield != NULL) {
		gsize size = fst_trust_root_encoded_size(starfield, format);
		total = fst_trust_total_size(set, format);
		if ((starfield->validation & validation) == 0) {
			g_autofree gchar *can = fst_trust_validation_words(validation);
			g_ptr_array_add(notes,
			                g_strdup_printf("%s omitted: device validates %s only",
			                                starfield->name,
			                                can));
		} else if (total + size > budget) {
			g_autofree gchar *need = fst_trust_format_bytes(total + size);
			g_ptr_array_add(notes,
			                g_strdup_printf("%s omitted: %s %s, with it %s needed",
			                                starfield->name,
			                                free_str,
			                                free_what,
			                                need));
		} else {
			g_ptr_array_add(set, starfield);
		}
	}
	g_ptr_array_sort_with_data(set, fst_trust_sort_by_size_cb, &helper);
	{
		g_autofree gchar *used = fst_trust_format_bytes(fst_trust_total_size(set, format));
		g_autofree gchar *all =
		    g_strdup_printf("all ATS roots fit: %s of %s %s", used, free_str, free_what);
		return fst_trust_selection_new(set, notes, all);
	}
}

/**
 * fst_trust_select:
 * @self: a catalogue
 * @options: the profile's trust options
 * @validation: the #FstValidation flags of the device's TLS stack
 * @format: how the device stores certificates
 * @budget: bytes the device has for the trust roots object
 * @error: (nullable): return location
 *
 * fst_trust_select_explain() without the reason.
 *
 * Returns: (transfer container) (element-type FstTrustRoot): roots borrowed
 * from the catalogue, or %NULL with @error set
 */
GPtrArray *
fst_trust_select(FstTrustCatalogue *self,
                 const FstTrustOptions *options,
                 guint validation,
                 FstCredFormat format,
                 guint32 budget,
                 GError **error)
{
	g_autoptr(FstTrustSelection) sel =
	    fst_trust_select_explain(self, options, validation, format, budget, error);
	if (sel == NULL)
		return NULL;
	return g_steal_pointer(&sel->roots);
}

/**
 * fst_trust_roots_ending_before:
 * @roots: (element-type FstTrustRoot): roots, e.g. those burned into a device
 * @when: unix seconds, e.g. the end of the device certificate
 *
 * Returns: (transfer full) (nullable): "AmazonRootCA1 (2038-01-17)" for each
 * root that ends before @when, comma-separated, or %NULL if none does
 */
gchar *
fst_trust_roots_ending_before(GPtrArray *roots, gint64 when)
{
	g_autoptr(GString) str = g_string_new(NULL);

	for (guint i = 0; roots != NULL && i < roots->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(roots, i);
		g_autoptr(GDateTime) dt = NULL;
		g_autofree gchar *date = NULL;
		if (root->not_after >= when)
			continue;
		dt = g_date_time_new_from_unix_utc(root->not_after);
		date = dt != NULL ? g_date_time_format(dt, "%Y-%m-%d") : g_strdup("?");
		if (str->len > 0)
			g_string_append(str, ", ");
		g_string_append_printf(str, "%s (%s)", root->name, date);
	}
	if (str->len == 0)
		return NULL;
	return g_string_free(g_steal_pointer(&str), FALSE);
}

/**
 * fst_trust_warn_ending_before:
 * @roots: (nullable) (element-type FstTrustRoot): the roots burned into a device
 * @cert_not_after: the end of the device certificate, unix seconds
 * @uid: the device
 *
 * Tells the operator (g_message(), not a failure) when a root ends before
 * the device certificate: the device would stop trusting its endpoint while
 * its credentials are still valid unless a trust-only job refreshes it.
 */
void
fst_trust_warn_ending_before(GPtrArray *roots, gint64 cert_not_after, const gchar *uid)
{
	g_autofree gchar *ending = fst_trust_roots_ending_before(roots, cert_not_after);
	g_autoptr(GDateTime) dt = NULL;
	g_autofree gchar *date = NULL;

	if (ending == NULL)
		return;
	dt = g_date_time_new_from_unix_utc(cert_not_after);
	date = dt != NULL ? g_date_time_format(dt, "%Y-%m-%d") : g_strdup("?");
	g_message("device %s: root CA %s ends before its certificate (%s); plan a trust-only "
	          "update before then (fleetstation roots report)",
	          uid,
	          ending,
	          date);
}
