/*
 * The trust catalogue: the root CAs a device may get so that it can validate
 * the servers it talks to, each pinned by the SHA-256 of its DER in a list
 * file, and the rules that pick the subset a given device gets. The list file
 * format and the selection rules are documented in templates/trust/README.md.
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
	if (g_str_has_suffix(filename, ".pem") || g_str_has_suffix(filename, ".der") ||
	    g_str_has_suffix(filename, ".crt"))
		root->name = g_strndup(filename, strlen(filename) - 4);
	else
		root->name = g_strdup(filename);
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

/**
 * fst_trust_select:
 * @self: a catalogue
 * @options: the profile's trust options
 * @validation: the #FstValidation flags of the device's TLS stack
 * @format: how the device stores certificates
 * @budget: bytes the device has for the trust roots object
 * @error: (nullable): return location
 *
 * Picks the roots a device gets (rules in templates/trust/README.md). The
 * required roots are those of the endpoint the device can validate; optional
 * ones (reserved, Starfield) are added only as the options ask and only if
 * they fit. When even the required roots do not fit, the smallest one that
 * fits alone is returned, since one root the device can validate is enough to
 * reach the endpoint. Fails with %FST_ERROR_NOT_SUPPORTED if the device can
 * validate no root of the endpoint, and %FST_ERROR_STORAGE_FULL naming the
 * sizes if no sufficient set fits in @budget.
 *
 * Returns: (transfer container) (element-type FstTrustRoot): roots borrowed
 * from the catalogue, smallest first, or %NULL with @error set
 */
GPtrArray *
fst_trust_select(FstTrustCatalogue *self,
                 const FstTrustOptions *options,
                 guint validation,
                 FstCredFormat format,
                 guint32 budget,
                 GError **error)
{
	g_autoptr(GPtrArray) required = g_ptr_array_new();
	g_autoptr(GPtrArray) optional = g_ptr_array_new();
	FstTrustSortHelper helper = {.format = format};
	gsize used;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(options != NULL, NULL);

	for (guint i = 0; i < self->roots->len; i++) {
		FstTrustRoot *root = g_ptr_array_index(self->roots, i);
		if ((root->validation & validation) == 0)
			continue;
		switch (root->role) {
		case FST_TRUST_ROLE_ATS_PRIMARY:
			if (options->endpoint == FST_TRUST_ENDPOINT_ATS)
				g_ptr_array_add(required, root);
			break;
		case FST_TRUST_ROLE_ATS_RESERVED:
			if (options->endpoint == FST_TRUST_ENDPOINT_ATS &&
			    options->include_reserved)
				g_ptr_array_add(optional, root);
			break;
		case FST_TRUST_ROLE_ATS_STARFIELD:
			if (options->endpoint == FST_TRUST_ENDPOINT_ATS &&
			    options->include_starfield)
				g_ptr_array_add(optional, root);
			break;
		case FST_TRUST_ROLE_LEGACY:
			if (options->endpoint == FST_TRUST_ENDPOINT_LEGACY)
				g_ptr_array_add(required, root);
			break;
		default:
			break;
		}
	}
	if (required->len == 0) {
		g_autofree gchar *can = fst_validation_to_string(validation);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "the device validates %s, but no root of the %s endpoint uses it: "
		            "the device cannot reach that endpoint",
		            can[0] != '\0' ? can : "no signature algorithm",
		            options->endpoint == FST_TRUST_ENDPOINT_ATS ? "ATS" : "legacy");
		return NULL;
	}
	g_ptr_array_sort_with_data(required, fst_trust_sort_by_size_cb, &helper);
	g_ptr_array_sort_with_data(optional, fst_trust_sort_by_size_cb, &helper);

	used = fst_trust_total_size(required, format);
	if (used > budget) {
		/* one root the device can validate is enough to reach the endpoint */
		FstTrustRoot *smallest = g_ptr_array_index(required, 0);
		gsize need = fst_trust_root_encoded_size(smallest, format);
		if (need > budget) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_STORAGE_FULL,
			            "trust roots need at least %" G_GSIZE_FORMAT
			            " bytes (%s %s), device has %u: free space on the device or "
			            "store DER",
			            need,
			            smallest->name,
			            fst_trust_format_to_string(format),
			            (guint)budget);
			return NULL;
		}
		g_info("only %s fits in %u bytes of trust storage; %u other root(s) left out",
		       smallest->name,
		       (guint)budget,
		       required->len - 1);
		g_ptr_array_set_size(required, 1);
		return g_steal_pointer(&required);
	}

	/* optional roots, smallest first, as long as they fit */
	for (guint i = 0; i < optional->len; i++) {
		FstTrustRoot *root = g_ptr_array_index(optional, i);
		gsize size = fst_trust_root_encoded_size(root, format);
		if (used + size > budget) {
			g_info("optional trust root %s (%" G_GSIZE_FORMAT " bytes) does not fit",
			       root->name,
			       size);
			continue;
		}
		g_ptr_array_add(required, root);
		used += size;
	}
	g_ptr_array_sort_with_data(required, fst_trust_sort_by_size_cb, &helper);
	return g_steal_pointer(&required);
}
