/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Provisioning profiles: what certificate a device of a given model gets and
 * which trust roots go with it.
 *
 * The file format (a GKeyFile INI file named templates/profiles/<name>.profile)
 * is documented in templates/profiles/README.md, beside this parser: keep the
 * two in step. Every group and key is checked against the tables below, so a
 * typo is an error rather than a silently ignored setting.
 */

#define G_LOG_DOMAIN "FstProfile"

#include "fst-aws-iot.h"
#include "fst-profile.h"

#include <stdarg.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fst-error.h"
#include "fst-file.h"
#include "fst-openssl-common.h"
#include "fst-x509.h"
#include "fst-time.h"

/* a profile is a few hundred bytes; anything much larger is not one */
#define FST_PROFILE_MAX_SIZE (64 * 1024)
/* AWS IoT thing names: [a-zA-Z0-9:_-]{1,128} */
#define FST_PROFILE_THING_NAME_MAX 128
/* X.520 ub-organization-name */
#define FST_PROFILE_ORGANIZATION_MAX 64
/* a device certificate valid for more than 50 years is a typo */
#define FST_PROFILE_VALIDITY_DAYS_MAX (50 * 366)
#define FST_PROFILE_MAX_KEY_TYPES 6
/* a trust roots budget: far above any root set, below any sane device */
#define FST_PROFILE_TRUST_BUDGET_MAX (1024 * 1024)

struct _FstProfile {
	gchar *path;           /* (owned) */
	gchar *name;           /* (owned) */
	gchar *description;    /* (owned) (nullable) */
	gchar **models;        /* (owned): glob patterns */
	gchar *content_sha256; /* (owned) */
	FstKeySource key_source;
	FstProfileIssuer issuer;
	FstKeyType key_types[FST_PROFILE_MAX_KEY_TYPES]; /* in order of preference */
	guint n_key_types;
	guint key_types_mask;
	gchar *cn_template;     /* (owned) */
	gchar *organization;    /* (owned) */
	guint validity_days;    /* 0 when not_after_fixed is used */
	gint64 not_after_fixed; /* unix seconds, 0 when validity_days is used */
	gboolean allow_outlive_ca;
	FstProfileDigest digest;
	gboolean rsa_pss;
	guint key_usage;     /* FstProfileKeyUsage flags, 0 for the default */
	guint ext_key_usage; /* FstProfileExtKeyUsage flags */
	gboolean subject_key_id;
	gboolean authority_key_id;
	gchar *san_dns;       /* (owned) (nullable): template */
	gchar *san_uri;       /* (owned) (nullable): template */
	gchar *escrow_cert;   /* (owned) (nullable): absolute path */
	GBytes *escrow_der;   /* (owned) (nullable): that certificate, DER, read once */
	gchar *escrow_sha256; /* (owned) (nullable): SHA-256 of @escrow_der */
	gboolean append_ca;
	FstProfileFormat format;
	guint burn_objects; /* 1 << FstObjectKind */
	gint64 sec_tag;     /* -1 when not set */
	FstProfileVerify verify;
	FstTrustOptions trust;
	FstProfileJob job;
	FstProfileOnReturn on_return;
	FstProfileSlots slots;
	FstProfileAws aws; /* (owned) strings */
};

/* how a key of the table below is checked */
typedef enum {
	FST_PROFILE_KEY_OPTIONAL = 0,
	FST_PROFILE_KEY_REQUIRED = 1 << 0, /* in every profile that may have it */
	FST_PROFILE_KEY_CERT = 1 << 1,     /* about the certificate: not in a trust-only profile */
} FstProfileKeyFlags;

/* every group and key a profile may hold */
static const struct {
	const gchar *group;
	const gchar *key;
	FstProfileKeyFlags flags;
} fst_profile_keys[] = {
    {"profile", "name", FST_PROFILE_KEY_REQUIRED},
    {"profile", "description", FST_PROFILE_KEY_OPTIONAL},
    {"profile", "models", FST_PROFILE_KEY_REQUIRED},
    {"profile", "key-source", FST_PROFILE_KEY_CERT},
    {"profile", "issuer", FST_PROFILE_KEY_CERT},
    {"profile", "key-types", FST_PROFILE_KEY_REQUIRED | FST_PROFILE_KEY_CERT},
    {"profile", "escrow-certificate", FST_PROFILE_KEY_CERT},
    {"profile", "job", FST_PROFILE_KEY_OPTIONAL},
    {"profile", "on-return", FST_PROFILE_KEY_CERT},
    {"profile", "offline", FST_PROFILE_KEY_CERT},
    {"profile", "credential-slots", FST_PROFILE_KEY_CERT},
    {"subject", "cn", FST_PROFILE_KEY_REQUIRED | FST_PROFILE_KEY_CERT},
    {"subject", "o", FST_PROFILE_KEY_REQUIRED | FST_PROFILE_KEY_CERT},
    {"validity", "days", FST_PROFILE_KEY_CERT},
    {"validity", "not-after", FST_PROFILE_KEY_CERT},
    {"validity", "allow-outlive-ca", FST_PROFILE_KEY_CERT},
    {"signature", "digest", FST_PROFILE_KEY_CERT},
    {"signature", "rsa-padding", FST_PROFILE_KEY_CERT},
    {"extensions", "key-usage", FST_PROFILE_KEY_CERT},
    {"extensions", "ext-key-usage", FST_PROFILE_KEY_CERT},
    {"extensions", "subject-key-id", FST_PROFILE_KEY_CERT},
    {"extensions", "authority-key-id", FST_PROFILE_KEY_CERT},
    {"extensions", "san-dns", FST_PROFILE_KEY_CERT},
    {"extensions", "san-uri", FST_PROFILE_KEY_CERT},
    {"burn", "append-ca", FST_PROFILE_KEY_CERT},
    {"burn", "format", FST_PROFILE_KEY_OPTIONAL},
    {"burn", "objects", FST_PROFILE_KEY_CERT},
    {"burn", "sec-tag", FST_PROFILE_KEY_OPTIONAL},
    {"burn", "verify", FST_PROFILE_KEY_OPTIONAL},
    {"trust", "endpoint", FST_PROFILE_KEY_OPTIONAL},
    {"trust", "include-reserved", FST_PROFILE_KEY_OPTIONAL},
    {"trust", "include-starfield", FST_PROFILE_KEY_OPTIONAL},
    {"trust", "budget", FST_PROFILE_KEY_OPTIONAL},
    {"trust", "roots", FST_PROFILE_KEY_OPTIONAL},
    {"aws", "register", FST_PROFILE_KEY_CERT},
    {"aws", "region", FST_PROFILE_KEY_CERT},
    {"aws", "thing-name", FST_PROFILE_KEY_CERT},
    {"aws", "policy", FST_PROFILE_KEY_CERT},
    {"aws", "policy-file", FST_PROFILE_KEY_CERT},
    {"aws", "with-ca", FST_PROFILE_KEY_CERT},
    {"aws", "status", FST_PROFILE_KEY_CERT},
};

/* the device attributes a subject template may use */
static const gchar *fst_profile_placeholders[] = {"uid", "model", "firmware"};

/*
 * GKeyFile does not say on which line a key is, so find it in the raw text:
 * cheap, and it lets an error point the operator at the right line. Returns 0
 * when the key is not found (e.g. for a missing key).
 */
static guint
fst_profile_find_line(const gchar *contents, const gchar *group, const gchar *key)
{
	g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
	g_autofree gchar *current = NULL;

	for (guint i = 0; lines[i] != NULL; i++) {
		g_autofree gchar *line = g_strstrip(g_strdup(lines[i]));
		if (line[0] == '[') {
			gchar *end = strchr(line, ']');
			g_free(current);
			current = end != NULL ? g_strndup(line + 1, (gsize)(end - line - 1)) : NULL;
			if (key == NULL && g_strcmp0(current, group) == 0)
				return i + 1;
			continue;
		}
		if (key == NULL)
			continue;
		if (g_strcmp0(current, group) == 0 && g_str_has_prefix(line, key)) {
			const gchar *rest = line + strlen(key);
			while (*rest == ' ' || *rest == '\t')
				rest++;
			if (*rest == '=')
				return i + 1;
		}
	}
	return 0;
}

/* "profile.profile: [subject] o (line 7): " */
static gchar *
fst_profile_where(const gchar *path, const gchar *contents, const gchar *group, const gchar *key)
{
	guint line = fst_profile_find_line(contents, group, key);
	if (key == NULL && line != 0)
		return g_strdup_printf("%s: [%s] (line %u)", path, group, line);
	if (key == NULL)
		return g_strdup_printf("%s: [%s]", path, group);
	if (line == 0)
		return g_strdup_printf("%s: [%s] %s", path, group, key);
	return g_strdup_printf("%s: [%s] %s (line %u)", path, group, key, line);
}

static gboolean
fst_profile_is_thing_name_char(gchar c)
{
	return g_ascii_isalnum(c) || c == ':' || c == '_' || c == '-';
}

/* characters of a DNS name in a subjectAltName */
static gboolean
fst_profile_is_dns_char(gchar c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '.';
}

/* characters of a URI in a subjectAltName (RFC 3986, no percent escapes needed) */
static gboolean
fst_profile_is_uri_char(gchar c)
{
	return g_ascii_isalnum(c) || strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL;
}

/*
 * Checks a template: literal text must be made of @is_char characters
 * (described by @allowed) and every {placeholder} must be known. Returns a
 * reason, or NULL if good.
 */
static gchar *
fst_profile_check_template(const gchar *tmpl, gboolean (*is_char)(gchar c), const gchar *allowed)
{
	if (tmpl[0] == '\0')
		return g_strdup("is empty");
	for (const gchar *p = tmpl; *p != '\0'; p++) {
		if (*p == '{') {
			const gchar *end = strchr(p, '}');
			gboolean known = FALSE;
			if (end == NULL)
				return g_strdup("has a '{' without a closing '}'");
			for (guint i = 0; i < G_N_ELEMENTS(fst_profile_placeholders); i++) {
				const gchar *name = fst_profile_placeholders[i];
				if ((gsize)(end - p - 1) == strlen(name) &&
				    strncmp(p + 1, name, strlen(name)) == 0)
					known = TRUE;
			}
			if (!known) {
				return g_strdup_printf(
				    "uses unknown placeholder %.*s (known: {uid}, "
				    "{model}, {firmware})",
				    (int)MIN(end - p + 1, 64),
				    p);
			}
			p = end;
			continue;
		}
		if (!is_char(*p)) {
			return g_strdup_printf(
			    "contains '%c', which %s", g_ascii_isprint(*p) ? *p : '?', allowed);
		}
	}
	return NULL;
}

static gchar *
fst_profile_check_cn_template(const gchar *tmpl)
{
	return fst_profile_check_template(
	    tmpl,
	    fst_profile_is_thing_name_char,
	    "an AWS IoT thing name cannot hold (allowed: a-z A-Z 0-9 : _ -)");
}

/* renders a checked template; stops once longer than @max */
static GString *
fst_profile_render(const gchar *tmpl, const FstDeviceInfo *info, gsize max)
{
	GString *out = g_string_new(NULL);

	for (const gchar *p = tmpl; *p != '\0'; p++) {
		const gchar *value = NULL;
		const gchar *end;
		if (*p != '{') {
			g_string_append_c(out, *p);
			continue;
		}
		/* the template was checked at load: every brace is closed and known */
		end = strchr(p, '}');
		if (strncmp(p, "{uid}", 5) == 0)
			value = info->uid;
		else if (strncmp(p, "{model}", 7) == 0)
			value = info->model;
		else if (strncmp(p, "{firmware}", 10) == 0)
			value = info->firmware;
		if (value != NULL)
			g_string_append(out, value);
		/* stop growing as soon as it cannot be valid anyway */
		if (out->len > max)
			break;
		p = end;
	}
	return out;
}

static gboolean
fst_profile_is_valid_name(const gchar *name)
{
	if (name == NULL || name[0] == '\0' || strlen(name) > 64)
		return FALSE;
	for (const gchar *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return FALSE;
	}
	return name[0] != '.';
}

static gboolean
fst_profile_parse_bool(GKeyFile *kf,
                       const gchar *path,
                       const gchar *contents,
                       const gchar *group,
                       const gchar *key,
                       gboolean *value,
                       GError **error)
{
	g_autoptr(GError) error_local = NULL;
	if (!g_key_file_has_key(kf, group, key, NULL))
		return TRUE;
	*value = g_key_file_get_boolean(kf, group, key, &error_local);
	if (error_local != NULL) {
		g_autofree gchar *where = fst_profile_where(path, contents, group, key);
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CONFIG, "%s: expected true or false", where);
		return FALSE;
	}
	return TRUE;
}

/* reads a string value; a missing key gives NULL, a bad one (e.g. a broken
 * escape sequence) an error naming the key */
static gboolean
fst_profile_get_string(GKeyFile *kf,
                       const gchar *path,
                       const gchar *contents,
                       const gchar *group,
                       const gchar *key,
                       gchar **value,
                       GError **error)
{
	g_autoptr(GError) error_local = NULL;
	*value = NULL;
	if (!g_key_file_has_key(kf, group, key, NULL))
		return TRUE;
	/* GKeyFile can return a value and set an error, e.g. for an unknown escape */
	*value = g_key_file_get_string(kf, group, key, &error_local);
	if (*value == NULL || error_local != NULL) {
		g_clear_pointer(value, g_free);
		g_autofree gchar *where = fst_profile_where(path, contents, group, key);
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CONFIG, "%s: %s", where, error_local->message);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_profile_get_string_list(GKeyFile *kf,
                            const gchar *path,
                            const gchar *contents,
                            const gchar *group,
                            const gchar *key,
                            gchar ***value,
                            GError **error)
{
	g_autoptr(GError) error_local = NULL;
	*value = NULL;
	if (!g_key_file_has_key(kf, group, key, NULL))
		return TRUE;
	*value = g_key_file_get_string_list(kf, group, key, NULL, &error_local);
	if (error_local != NULL) {
		g_clear_pointer(value, g_strfreev);
		g_autofree gchar *where = fst_profile_where(path, contents, group, key);
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CONFIG, "%s: %s", where, error_local->message);
		return FALSE;
	}
	return TRUE;
}

/* a list value parsed against a table of names; @what names the list in errors */
typedef struct {
	const gchar *name;
	guint value;
} FstProfileName;

static gboolean
fst_profile_parse_flags(GKeyFile *kf,
                        const gchar *path,
                        const gchar *contents,
                        const gchar *group,
                        const gchar *key,
                        const FstProfileName *names,
                        guint n_names,
                        guint *value,
                        GError **error)
{
	g_auto(GStrv) items = NULL;
	g_autoptr(GString) known = g_string_new(NULL);

	if (!fst_profile_get_string_list(kf, path, contents, group, key, &items, error))
		return FALSE;
	if (items == NULL)
		return TRUE;
	for (guint k = 0; k < n_names; k++)
		g_string_append_printf(known, "%s%s", k > 0 ? ", " : "", names[k].name);
	*value = 0;
	for (guint i = 0; items[i] != NULL; i++) {
		gboolean found = FALSE;
		g_strstrip(items[i]);
		for (guint k = 0; k < n_names; k++) {
			if (g_strcmp0(items[i], names[k].name) == 0) {
				*value |= names[k].value;
				found = TRUE;
			}
		}
		if (!found) {
			g_autofree gchar *where = fst_profile_where(path, contents, group, key);
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: unknown value '%s' (known: %s)",
			            where,
			            items[i],
			            known->str);
			return FALSE;
		}
	}
	return TRUE;
}

/* one of a few names; a missing key leaves *value alone */
static gboolean
fst_profile_parse_enum(GKeyFile *kf,
                       const gchar *path,
                       const gchar *contents,
                       const gchar *group,
                       const gchar *key,
                       const FstProfileName *names,
                       guint n_names,
                       guint *value,
                       GError **error)
{
	g_autofree gchar *str = NULL;
	g_autoptr(GString) known = g_string_new(NULL);
	g_autofree gchar *where = NULL;

	if (!fst_profile_get_string(kf, path, contents, group, key, &str, error))
		return FALSE;
	if (str == NULL)
		return TRUE;
	g_strstrip(str);
	for (guint k = 0; k < n_names; k++) {
		if (g_strcmp0(str, names[k].name) == 0) {
			*value = names[k].value;
			return TRUE;
		}
		g_string_append_printf(known, "%s%s", k > 0 ? ", " : "", names[k].name);
	}
	where = fst_profile_where(path, contents, group, key);
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_CONFIG,
	            "%s: '%s' is not one of %s",
	            where,
	            str,
	            known->str);
	return FALSE;
}

/* keeps the error of a failed check, if any, and lets the parse go on */
static void
fst_profile_keep(GPtrArray *errors, GError **error)
{
	if (*error != NULL)
		g_ptr_array_add(errors, g_steal_pointer(error));
}

/* keeps an error about @key of @group (or the group itself when @key is
 * NULL), e.g. "x.profile: [subject] o (line 7): the organization must be..." */
static void G_GNUC_PRINTF(6, 7) fst_profile_fail(GPtrArray *errors,
                                                 const gchar *path,
                                                 const gchar *contents,
                                                 const gchar *group,
                                                 const gchar *key,
                                                 const gchar *format,
                                                 ...)
{
	g_autofree gchar *where = fst_profile_where(path, contents, group, key);
	g_autofree gchar *message = NULL;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_ptr_array_add(errors, g_error_new(FST_ERROR, FST_ERROR_CONFIG, "%s: %s", where, message));
}

/* [profile] escrow-certificate: a PEM certificate, relative to the profile's
 * folder; @key_source_ok says the key source was read, so it can be checked */
static void
fst_profile_parse_escrow(FstProfile *self,
                         GKeyFile *kf,
                         const gchar *contents,
                         gboolean key_source_ok,
                         GPtrArray *errors)
{
	g_autofree gchar *value = NULL;
	g_autofree gchar *dir = NULL;
	g_autoptr(GError) error = NULL;

	if (!fst_profile_get_string(
	        kf, self->path, contents, "profile", "escrow-certificate", &value, &error)) {
		fst_profile_keep(errors, &error);
		return;
	}
	if (value == NULL)
		return;
	if (key_source_ok && self->key_source != FST_KEY_SOURCE_STATION_GENERATED) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "profile",
		                 "escrow-certificate",
		                 "an escrow certificate only makes sense with "
		                 "key-source=station-generated");
		return;
	}
	dir = g_path_get_dirname(self->path);
	self->escrow_cert =
	    g_path_is_absolute(value) ? g_strdup(value) : g_build_filename(dir, value, NULL);
	if (!g_file_test(self->escrow_cert, G_FILE_TEST_IS_REGULAR)) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "profile",
		                 "escrow-certificate",
		                 "%s does not exist",
		                 self->escrow_cert);
		return;
	}
	/* read once, here: every station-generated key is enveloped to it, and
	 * a file that is not a certificate is a profile error, not a device's */
	{
		g_autoptr(BIO) bio = BIO_new_file(self->escrow_cert, "r");
		g_autoptr(X509) cert =
		    bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		guint8 *der = NULL;
		int len = cert != NULL ? i2d_X509(cert, &der) : -1;
		ERR_clear_error();
		if (len <= 0) {
			fst_profile_fail(errors,
			                 self->path,
			                 contents,
			                 "profile",
			                 "escrow-certificate",
			                 "%s is not a PEM certificate",
			                 self->escrow_cert);
			return;
		}
		self->escrow_der = g_bytes_new(der, (gsize)len);
		OPENSSL_free(der);
		self->escrow_sha256 = fst_x509_sha256_hex(self->escrow_der);
	}
}

/* [validity] not-after: a fixed UTC end such as AWS's 2049-12-31T23:59:59Z */
static void
fst_profile_parse_not_after(FstProfile *self,
                            GKeyFile *kf,
                            const gchar *contents,
                            GPtrArray *errors)
{
	g_autofree gchar *value = NULL;
	g_autoptr(GDateTime) dt = NULL;
	g_autoptr(GError) error = NULL;

	if (!fst_profile_get_string(
	        kf, self->path, contents, "validity", "not-after", &value, &error)) {
		fst_profile_keep(errors, &error);
		return;
	}
	g_strstrip(value);
	/* only UTC ('Z'), so the date in the file is the date in the certificate */
	if (g_str_has_suffix(value, "Z"))
		dt = g_date_time_new_from_iso8601(value, NULL);
	if (dt == NULL) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "validity",
		                 "not-after",
		                 "'%s' is not a UTC date and time such as 2049-12-31T23:59:59Z",
		                 value);
		return;
	}
	/* a fixed end that has passed would make every certificate born expired */
	if (g_date_time_to_unix(dt) <= g_get_real_time() / G_USEC_PER_SEC) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "validity",
		                 "not-after",
		                 "%s has passed: certificates would be issued already expired; "
		                 "give a later date such as 2049-12-31T23:59:59Z, or days",
		                 value);
		return;
	}
	self->not_after_fixed = g_date_time_to_unix(dt);
}

static void
fst_profile_parse_signature(FstProfile *self,
                            GKeyFile *kf,
                            const gchar *contents,
                            GPtrArray *errors)
{
	static const FstProfileName digests[] = {
	    {"auto", FST_PROFILE_DIGEST_AUTO},
	    {"sha256", FST_PROFILE_DIGEST_SHA256},
	    {"sha384", FST_PROFILE_DIGEST_SHA384},
	    {"sha512", FST_PROFILE_DIGEST_SHA512},
	};
	static const FstProfileName paddings[] = {{"pkcs1", FALSE}, {"pss", TRUE}};
	guint digest = FST_PROFILE_DIGEST_AUTO;
	guint pss = FALSE;
	g_autoptr(GError) error = NULL;

	fst_profile_parse_enum(kf,
	                       self->path,
	                       contents,
	                       "signature",
	                       "digest",
	                       digests,
	                       G_N_ELEMENTS(digests),
	                       &digest,
	                       &error);
	fst_profile_keep(errors, &error);
	fst_profile_parse_enum(kf,
	                       self->path,
	                       contents,
	                       "signature",
	                       "rsa-padding",
	                       paddings,
	                       G_N_ELEMENTS(paddings),
	                       &pss,
	                       &error);
	fst_profile_keep(errors, &error);
	self->digest = digest;
	self->rsa_pss = pss;
}

/* a subjectAltName template; a bad one is kept as an error and left NULL */
static void
fst_profile_parse_san(FstProfile *self,
                      GKeyFile *kf,
                      const gchar *contents,
                      const gchar *key,
                      gboolean (*is_char)(gchar c),
                      const gchar *allowed,
                      gchar **value,
                      GPtrArray *errors)
{
	g_autofree gchar *reason = NULL;
	g_autoptr(GError) error = NULL;

	if (!fst_profile_get_string(kf, self->path, contents, "extensions", key, value, &error)) {
		fst_profile_keep(errors, &error);
		return;
	}
	if (*value == NULL)
		return;
	g_strstrip(*value);
	reason = fst_profile_check_template(*value, is_char, allowed);
	if (reason != NULL) {
		fst_profile_fail(
		    errors, self->path, contents, "extensions", key, "the template %s", reason);
		g_clear_pointer(value, g_free);
	}
}

static void
fst_profile_parse_extensions(FstProfile *self,
                             GKeyFile *kf,
                             const gchar *contents,
                             GPtrArray *errors)
{
	static const FstProfileName kus[] = {
	    {"digital-signature", FST_PROFILE_KEY_USAGE_DIGITAL_SIGNATURE},
	    {"key-encipherment", FST_PROFILE_KEY_USAGE_KEY_ENCIPHERMENT},
	    {"key-agreement", FST_PROFILE_KEY_USAGE_KEY_AGREEMENT},
	};
	static const FstProfileName ekus[] = {
	    {"client-auth", FST_PROFILE_EXT_KEY_USAGE_CLIENT_AUTH},
	    {"server-auth", FST_PROFILE_EXT_KEY_USAGE_SERVER_AUTH},
	};
	g_autoptr(GError) error = NULL;

	self->ext_key_usage = FST_PROFILE_EXT_KEY_USAGE_CLIENT_AUTH;
	self->subject_key_id = TRUE;
	self->authority_key_id = TRUE;
	if (!fst_profile_parse_flags(kf,
	                             self->path,
	                             contents,
	                             "extensions",
	                             "key-usage",
	                             kus,
	                             G_N_ELEMENTS(kus),
	                             &self->key_usage,
	                             &error)) {
		fst_profile_keep(errors, &error);
	} else if (g_key_file_has_key(kf, "extensions", "key-usage", NULL) &&
	           self->key_usage == 0) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "extensions",
		                 "key-usage",
		                 "list at least one usage, e.g. digital-signature");
	}
	fst_profile_parse_flags(kf,
	                        self->path,
	                        contents,
	                        "extensions",
	                        "ext-key-usage",
	                        ekus,
	                        G_N_ELEMENTS(ekus),
	                        &self->ext_key_usage,
	                        &error);
	fst_profile_keep(errors, &error);
	fst_profile_parse_bool(kf,
	                       self->path,
	                       contents,
	                       "extensions",
	                       "subject-key-id",
	                       &self->subject_key_id,
	                       &error);
	fst_profile_keep(errors, &error);
	fst_profile_parse_bool(kf,
	                       self->path,
	                       contents,
	                       "extensions",
	                       "authority-key-id",
	                       &self->authority_key_id,
	                       &error);
	fst_profile_keep(errors, &error);
	fst_profile_parse_san(self,
	                      kf,
	                      contents,
	                      "san-dns",
	                      fst_profile_is_dns_char,
	                      "a DNS name cannot hold (allowed: a-z A-Z 0-9 . -)",
	                      &self->san_dns,
	                      errors);
	fst_profile_parse_san(self,
	                      kf,
	                      contents,
	                      "san-uri",
	                      fst_profile_is_uri_char,
	                      "a URI cannot hold unescaped",
	                      &self->san_uri,
	                      errors);
	if (self->san_uri != NULL && strchr(self->san_uri, ':') == NULL) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "extensions",
		                 "san-uri",
		                 "a URI starts with a scheme, e.g. urn:example:device:{uid}");
	}
}

static void
fst_profile_parse_burn(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	static const FstProfileName formats[] = {
	    {"device", FST_PROFILE_FORMAT_DEVICE},
	    {"pem", FST_PROFILE_FORMAT_PEM},
	    {"der", FST_PROFILE_FORMAT_DER},
	};
	static const FstProfileName objects[] = {
	    {"device-cert", 1u << FST_OBJECT_DEVICE_CERT},
	    {"ca-chain", 1u << FST_OBJECT_CA_CHAIN},
	    {"trust-roots", 1u << FST_OBJECT_TRUST_ROOTS},
	};
	g_autofree gchar *sec_tag = NULL;
	g_autoptr(GError) error = NULL;
	guint format = FST_PROFILE_FORMAT_DEVICE;

	fst_profile_parse_bool(
	    kf, self->path, contents, "burn", "append-ca", &self->append_ca, &error);
	fst_profile_keep(errors, &error);
	fst_profile_parse_enum(kf,
	                       self->path,
	                       contents,
	                       "burn",
	                       "format",
	                       formats,
	                       G_N_ELEMENTS(formats),
	                       &format,
	                       &error);
	fst_profile_keep(errors, &error);
	self->format = format;
	self->burn_objects = (1u << FST_OBJECT_DEVICE_CERT) | (1u << FST_OBJECT_CA_CHAIN) |
	                     (1u << FST_OBJECT_TRUST_ROOTS);
	if (!fst_profile_parse_flags(kf,
	                             self->path,
	                             contents,
	                             "burn",
	                             "objects",
	                             objects,
	                             G_N_ELEMENTS(objects),
	                             &self->burn_objects,
	                             &error)) {
		fst_profile_keep(errors, &error);
	} else if ((self->burn_objects & (1u << FST_OBJECT_DEVICE_CERT)) == 0) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "burn",
		                 "objects",
		                 "device-cert must be burned: it is what provisioning is for");
	}

	/* nRF91 modem: one sec_tag holds client certificate, key and CA list */
	self->sec_tag = -1;
	if (!fst_profile_get_string(
	        kf, self->path, contents, "burn", "sec-tag", &sec_tag, &error)) {
		fst_profile_keep(errors, &error);
		return;
	}
	if (sec_tag != NULL) {
		gchar *endptr = NULL;
		guint64 tag = g_ascii_strtoull(g_strstrip(sec_tag), &endptr, 10);
		if (sec_tag[0] < '0' || sec_tag[0] > '9' || *endptr != '\0' || tag > G_MAXINT32) {
			fst_profile_fail(errors,
			                 self->path,
			                 contents,
			                 "burn",
			                 "sec-tag",
			                 "'%s' is not a sec_tag from 0 to 2147483647",
			                 sec_tag);
			return;
		}
		self->sec_tag = (gint64)tag;
	}
}

/* [burn] verify: how what the device stored is checked */
static void
fst_profile_parse_verify(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	static const FstProfileName verifies[] = {
	    {"auto", FST_PROFILE_VERIFY_AUTO},
	    {"digest", FST_PROFILE_VERIFY_DIGEST},
	    {"readback", FST_PROFILE_VERIFY_READBACK},
	};
	g_autoptr(GError) error = NULL;
	guint verify = FST_PROFILE_VERIFY_AUTO;

	fst_profile_parse_enum(kf,
	                       self->path,
	                       contents,
	                       "burn",
	                       "verify",
	                       verifies,
	                       G_N_ELEMENTS(verifies),
	                       &verify,
	                       &error);
	fst_profile_keep(errors, &error);
	self->verify = verify;
}

/* unknown groups and keys are errors, a typo must not be ignored, and so are
 * the certificate's keys in a trust-only profile, which issues none; then the
 * required keys */
static void
fst_profile_check_keys(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	const gchar *path = self->path;
	gboolean trust_only = self->job == FST_PROFILE_JOB_TRUST_ONLY;
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

	for (guint i = 0; groups[i] != NULL; i++) {
		g_auto(GStrv) keys = g_key_file_get_keys(kf, groups[i], NULL, NULL);
		gboolean group_known = FALSE;
		for (guint k = 0; k < G_N_ELEMENTS(fst_profile_keys); k++) {
			if (g_strcmp0(fst_profile_keys[k].group, groups[i]) == 0)
				group_known = TRUE;
		}
		if (!group_known) {
			fst_profile_fail(errors,
			                 path,
			                 contents,
			                 groups[i],
			                 NULL,
			                 "unknown group (known: profile, subject, validity, "
			                 "signature, extensions, burn, trust, aws)");
			continue;
		}
		for (guint j = 0; keys != NULL && keys[j] != NULL; j++) {
			gint found = -1;
			for (guint k = 0; k < G_N_ELEMENTS(fst_profile_keys); k++) {
				if (g_strcmp0(fst_profile_keys[k].group, groups[i]) == 0 &&
				    g_strcmp0(fst_profile_keys[k].key, keys[j]) == 0)
					found = (gint)k;
			}
			if (found < 0) {
				fst_profile_fail(errors,
				                 path,
				                 contents,
				                 groups[i],
				                 keys[j],
				                 "unknown key (see templates/profiles/README.md)");
			} else if (trust_only &&
			           (fst_profile_keys[found].flags & FST_PROFILE_KEY_CERT) != 0) {
				fst_profile_fail(errors,
				                 path,
				                 contents,
				                 groups[i],
				                 keys[j],
				                 "a trust-only profile (job=trust-only) issues no "
				                 "certificate: remove this key");
			}
		}
	}
	for (guint k = 0; k < G_N_ELEMENTS(fst_profile_keys); k++) {
		if ((fst_profile_keys[k].flags & FST_PROFILE_KEY_REQUIRED) == 0)
			continue;
		if (trust_only && (fst_profile_keys[k].flags & FST_PROFILE_KEY_CERT) != 0)
			continue;
		if (!g_key_file_has_key(
		        kf, fst_profile_keys[k].group, fst_profile_keys[k].key, NULL)) {
			g_ptr_array_add(errors,
			                g_error_new(FST_ERROR,
			                            FST_ERROR_CONFIG,
			                            "%s: [%s] %s is missing: it is required",
			                            path,
			                            fst_profile_keys[k].group,
			                            fst_profile_keys[k].key));
		}
	}
}

/* the placeholders an AWS thing-name template may use */
static const gchar *fst_profile_aws_placeholders[] = {
    "device", "uid", "serial", "aws_cert_id", "lot"};

/* a thing-name template: known placeholders, and AWS's characters around them */
static gboolean
fst_profile_check_thing_template(const gchar *str, gchar **problem)
{
	const gchar *p = str;

	if (str[0] == '\0' || strlen(str) > FST_PROFILE_THING_NAME_MAX) {
		*problem = g_strdup("a thing name is 1 to 128 characters");
		return FALSE;
	}
	while (*p != '\0') {
		if (*p == '{') {
			const gchar *end = strchr(p, '}');
			gboolean known = FALSE;
			if (end == NULL) {
				*problem = g_strdup("a '{' is not closed by '}'");
				return FALSE;
			}
			for (guint k = 0; k < G_N_ELEMENTS(fst_profile_aws_placeholders); k++) {
				const gchar *name = fst_profile_aws_placeholders[k];
				if ((gsize)(end - p - 1) == strlen(name) &&
				    strncmp(p + 1, name, strlen(name)) == 0)
					known = TRUE;
			}
			if (!known) {
				*problem =
				    g_strdup_printf("unknown placeholder %.*s (known: {device}, "
				                    "{uid}, {serial}, {aws_cert_id}, {lot})",
				                    (gint)(end - p + 1),
				                    p);
				return FALSE;
			}
			p = end + 1;
			continue;
		}
		if (!g_ascii_isalnum(*p) && *p != ':' && *p != '_' && *p != '-') {
			*problem = g_strdup_printf("'%c' cannot be in an AWS IoT thing name "
			                           "(a-z A-Z 0-9 : _ - only)",
			                           *p);
			return FALSE;
		}
		p++;
	}
	return TRUE;
}

/* an AWS region name, e.g. eu-west-1 */
static gboolean
fst_profile_is_region(const gchar *str)
{
	if (str[0] == '\0' || strlen(str) > 32 || str[0] == '-')
		return FALSE;
	for (const gchar *p = str; *p != '\0'; p++) {
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-')
			return FALSE;
	}
	return TRUE;
}

/* an AWS IoT policy name: [\w+=,.@-]{1,128} */
static gboolean
fst_profile_is_policy_name(const gchar *str)
{
	if (str[0] == '\0' || strlen(str) > 128)
		return FALSE;
	for (const gchar *p = str; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr("_+=,.@-", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

/* [aws] policy-file: read once, a JSON object */
static void
fst_profile_parse_aws_policy_file(FstProfile *self,
                                  const gchar *value,
                                  const gchar *contents,
                                  GPtrArray *errors)
{
	g_autofree gchar *dir = g_path_get_dirname(self->path);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;

	self->aws.policy_file =
	    g_path_is_absolute(value) ? g_strdup(value) : g_build_filename(dir, value, NULL);
	text = fst_file_read_bounded(self->aws.policy_file, FST_PROFILE_MAX_SIZE, &len, &error);
	if (text == NULL) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "aws",
		                 "policy-file",
		                 "cannot read the policy %s: %s",
		                 self->aws.policy_file,
		                 error->message);
		return;
	}
	g_strstrip(text);
	if (text[0] != '{' || !g_str_has_suffix(text, "}") || !g_utf8_validate(text, -1, NULL)) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "aws",
		                 "policy-file",
		                 "%s is not a JSON policy document (a JSON object)",
		                 self->aws.policy_file);
		return;
	}
	self->aws.policy_document = g_steal_pointer(&text);
}

/* [aws]: registration of each certificate with AWS IoT */
static void
fst_profile_parse_aws(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	static const FstProfileName statuses[] = {
	    {"active", FALSE},
	    {"inactive", TRUE},
	};
	const gchar *path = self->path;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *policy_file = NULL;
	g_autofree gchar *problem = NULL;
	guint value;

	if (!g_key_file_has_group(kf, "aws"))
		return;
	if (!fst_profile_parse_bool(
	        kf, path, contents, "aws", "register", &self->aws.register_certs, &error))
		fst_profile_keep(errors, &error);
	if (!fst_profile_parse_bool(
	        kf, path, contents, "aws", "with-ca", &self->aws.with_ca, &error))
		fst_profile_keep(errors, &error);
	value = FALSE;
	fst_profile_parse_enum(
	    kf, path, contents, "aws", "status", statuses, G_N_ELEMENTS(statuses), &value, &error);
	fst_profile_keep(errors, &error);
	self->aws.inactive = value;

	if (!fst_profile_get_string(
	        kf, path, contents, "aws", "region", &self->aws.region, &error)) {
		fst_profile_keep(errors, &error);
	} else if (self->aws.region != NULL &&
	           !fst_profile_is_region(g_strstrip(self->aws.region))) {
		fst_profile_fail(errors,
		                 path,
		                 contents,
		                 "aws",
		                 "region",
		                 "'%s' is not an AWS region name, e.g. eu-west-1",
		                 self->aws.region);
	}
	if (!fst_profile_get_string(
	        kf, path, contents, "aws", "thing-name", &self->aws.thing_name, &error)) {
		fst_profile_keep(errors, &error);
	} else if (self->aws.thing_name != NULL &&
	           !fst_profile_check_thing_template(g_strstrip(self->aws.thing_name), &problem)) {
		fst_profile_fail(errors, path, contents, "aws", "thing-name", "%s", problem);
	}
	if (!fst_profile_get_string(
	        kf, path, contents, "aws", "policy", &self->aws.policy, &error)) {
		fst_profile_keep(errors, &error);
	} else if (self->aws.policy != NULL &&
	           !fst_profile_is_policy_name(g_strstrip(self->aws.policy))) {
		fst_profile_fail(
		    errors,
		    path,
		    contents,
		    "aws",
		    "policy",
		    "a policy name is 1 to 128 characters from a-z A-Z 0-9 _ + = , . @ -");
	}
	if (!fst_profile_get_string(
	        kf, path, contents, "aws", "policy-file", &policy_file, &error)) {
		fst_profile_keep(errors, &error);
	} else if (policy_file != NULL) {
		if (self->aws.policy == NULL) {
			fst_profile_fail(errors,
			                 path,
			                 contents,
			                 "aws",
			                 "policy-file",
			                 "a policy file needs the policy's name: add policy=");
		} else {
			fst_profile_parse_aws_policy_file(
			    self, g_strstrip(policy_file), contents, errors);
		}
	}
	if (self->aws.register_certs && self->aws.region == NULL) {
		fst_profile_fail(errors,
		                 path,
		                 contents,
		                 "aws",
		                 "register",
		                 "registering needs the region: add region=, e.g. eu-west-1");
	}
}

/* [profile] job, on-return and credential-slots */
static void
fst_profile_parse_job(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	static const FstProfileName jobs[] = {
	    {"provision", FST_PROFILE_JOB_PROVISION},
	    {"trust-only", FST_PROFILE_JOB_TRUST_ONLY},
	};
	static const FstProfileName on_return[] = {
	    {"refuse", FST_PROFILE_ON_RETURN_REFUSE},
	    {"reprovision", FST_PROFILE_ON_RETURN_REPROVISION},
	};
	static const FstProfileName slots[] = {
	    {"single", FST_PROFILE_SLOTS_SINGLE},
	    {"ab", FST_PROFILE_SLOTS_AB},
	};
	g_autoptr(GError) error = NULL;
	guint value;

	value = FST_PROFILE_JOB_PROVISION;
	fst_profile_parse_enum(
	    kf, self->path, contents, "profile", "job", jobs, G_N_ELEMENTS(jobs), &value, &error);
	fst_profile_keep(errors, &error);
	self->job = value;
	value = FST_PROFILE_ON_RETURN_REFUSE;
	fst_profile_parse_enum(kf,
	                       self->path,
	                       contents,
	                       "profile",
	                       "on-return",
	                       on_return,
	                       G_N_ELEMENTS(on_return),
	                       &value,
	                       &error);
	fst_profile_keep(errors, &error);
	self->on_return = value;
	value = FST_PROFILE_SLOTS_SINGLE;
	fst_profile_parse_enum(kf,
	                       self->path,
	                       contents,
	                       "profile",
	                       "credential-slots",
	                       slots,
	                       G_N_ELEMENTS(slots),
	                       &value,
	                       &error);
	fst_profile_keep(errors, &error);
	self->slots = value;
}

/* [profile] issuer: who signs the device certificates; AWS IoT signs a
 * device's CSR (CreateCertificateFromCsr) or makes the key pair itself
 * (CreateKeysAndCertificate, RSA 2048) */
static void
fst_profile_parse_issuer(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	static const FstProfileName issuers[] = {
	    {"station", FST_PROFILE_ISSUER_STATION},
	    {"aws", FST_PROFILE_ISSUER_AWS},
	};
	g_autoptr(GError) error = NULL;
	guint issuer = FST_PROFILE_ISSUER_STATION;

	if (!fst_profile_parse_enum(kf,
	                            self->path,
	                            contents,
	                            "profile",
	                            "issuer",
	                            issuers,
	                            G_N_ELEMENTS(issuers),
	                            &issuer,
	                            &error)) {
		fst_profile_keep(errors, &error);
		return;
	}
	self->issuer = issuer;
	if (self->issuer != FST_PROFILE_ISSUER_AWS)
		return;
	if (self->key_source == FST_KEY_SOURCE_DEVICE_PUBLIC_KEY) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "profile",
		                 "issuer",
		                 "AWS IoT issues certificates for a CSR (key-source=device-csr) "
		                 "or with a key it makes (key-source=station-generated), not for "
		                 "a bare public key");
	}
	if (self->key_source == FST_KEY_SOURCE_STATION_GENERATED &&
	    self->key_types_mask != FST_KEY_TYPE_RSA_2048) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "profile",
		                 "issuer",
		                 "AWS IoT makes RSA 2048 keys (CreateKeysAndCertificate): set "
		                 "key-types=rsa-2048, or key-source=device-csr");
	}
	if (self->escrow_cert != NULL) {
		fst_profile_fail(errors,
		                 self->path,
		                 contents,
		                 "profile",
		                 "issuer",
		                 "a key AWS IoT makes is not escrowed by the station: remove "
		                 "escrow-certificate, or use the station's CA");
	}
}

/* [profile] key-source, escrow-certificate, key-types and issuer */
static void
fst_profile_parse_keys(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	static const FstProfileName sources[] = {
	    {"device-csr", FST_KEY_SOURCE_DEVICE_CSR},
	    {"device-public-key", FST_KEY_SOURCE_DEVICE_PUBLIC_KEY},
	    {"station-generated", FST_KEY_SOURCE_STATION_GENERATED},
	};
	const gchar *path = self->path;
	g_auto(GStrv) key_types = NULL;
	g_autoptr(GError) error = NULL;
	guint key_source = FST_KEY_SOURCE_DEVICE_CSR;
	gboolean key_source_ok;

	key_source_ok = fst_profile_parse_enum(kf,
	                                       path,
	                                       contents,
	                                       "profile",
	                                       "key-source",
	                                       sources,
	                                       G_N_ELEMENTS(sources),
	                                       &key_source,
	                                       &error);
	fst_profile_keep(errors, &error);
	self->key_source = key_source;
	fst_profile_parse_escrow(self, kf, contents, key_source_ok, errors);

	if (!fst_profile_get_string_list(
	        kf, path, contents, "profile", "key-types", &key_types, &error)) {
		fst_profile_keep(errors, &error);
		return;
	}
	if (key_types == NULL)
		return; /* missing: reported with the required keys */
	for (guint i = 0; key_types[i] != NULL; i++) {
		FstKeyType kt = fst_key_type_from_string(g_strstrip(key_types[i]));
		if (kt == FST_KEY_TYPE_NONE) {
			fst_profile_fail(errors,
			                 path,
			                 contents,
			                 "profile",
			                 "key-types",
			                 "unknown key type '%s' (known: ec-p256, ec-p384, ec-p521, "
			                 "rsa-2048, rsa-3072, rsa-4096)",
			                 key_types[i]);
			continue;
		}
		if (self->key_types_mask & kt) {
			fst_profile_fail(errors,
			                 path,
			                 contents,
			                 "profile",
			                 "key-types",
			                 "key type '%s' is listed twice",
			                 key_types[i]);
			continue;
		}
		self->key_types[self->n_key_types++] = kt;
		self->key_types_mask |= kt;
	}
	if (self->n_key_types == 0 && key_types[0] == NULL) {
		fst_profile_fail(errors,
		                 path,
		                 contents,
		                 "profile",
		                 "key-types",
		                 "list at least one key type, e.g. ec-p256");
	}
	if (key_source_ok)
		fst_profile_parse_issuer(self, kf, contents, errors);
}

/* [subject] */
static void
fst_profile_parse_subject(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	const gchar *path = self->path;
	g_autofree gchar *reason = NULL;
	g_autoptr(GError) error = NULL;

	if (!fst_profile_get_string(
	        kf, path, contents, "subject", "cn", &self->cn_template, &error))
		fst_profile_keep(errors, &error);
	if (self->cn_template != NULL)
		reason = fst_profile_check_cn_template(self->cn_template);
	if (reason != NULL)
		fst_profile_fail(
		    errors, path, contents, "subject", "cn", "the template %s", reason);
	if (!fst_profile_get_string(
	        kf, path, contents, "subject", "o", &self->organization, &error))
		fst_profile_keep(errors, &error);
	if (self->organization != NULL &&
	    (self->organization[0] == '\0' ||
	     g_utf8_strlen(self->organization, -1) > FST_PROFILE_ORGANIZATION_MAX)) {
		fst_profile_fail(errors,
		                 path,
		                 contents,
		                 "subject",
		                 "o",
		                 "the organization must be 1 to %u UTF-8 characters",
		                 (guint)FST_PROFILE_ORGANIZATION_MAX);
	}
}

/* [validity] */
static void
fst_profile_parse_validity(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	const gchar *path = self->path;
	g_autofree gchar *days = NULL;
	g_autoptr(GError) error = NULL;
	gchar *endptr = NULL;
	guint64 days_val = 0;

	if (!fst_profile_get_string(kf, path, contents, "validity", "days", &days, &error))
		fst_profile_keep(errors, &error);
	fst_profile_parse_bool(
	    kf, path, contents, "validity", "allow-outlive-ca", &self->allow_outlive_ca, &error);
	fst_profile_keep(errors, &error);
	if (g_key_file_has_key(kf, "validity", "not-after", NULL)) {
		if (g_key_file_has_key(kf, "validity", "days", NULL)) {
			fst_profile_fail(errors,
			                 path,
			                 contents,
			                 "validity",
			                 "not-after",
			                 "give either days or not-after, not both");
		}
		fst_profile_parse_not_after(self, kf, contents, errors);
	} else if (!g_key_file_has_key(kf, "validity", "days", NULL)) {
		g_ptr_array_add(errors,
		                g_error_new(FST_ERROR,
		                            FST_ERROR_CONFIG,
		                            "%s: [validity] needs days (e.g. days=3650) or "
		                            "not-after (e.g. not-after=2049-12-31T23:59:59Z)",
		                            path));
	}
	if (days == NULL)
		return;
	days_val = g_ascii_strtoull(days, &endptr, 10);
	if (days[0] < '0' || days[0] > '9' || *endptr != '\0' || days_val == 0 ||
	    days_val > FST_PROFILE_VALIDITY_DAYS_MAX) {
		fst_profile_fail(errors,
		                 path,
		                 contents,
		                 "validity",
		                 "days",
		                 "'%s' is not a number of days from 1 to %u",
		                 days,
		                 (guint)FST_PROFILE_VALIDITY_DAYS_MAX);
		return;
	}
	self->validity_days = (guint)days_val;
}

/* [trust] */
static void
fst_profile_parse_trust(FstProfile *self, GKeyFile *kf, const gchar *contents, GPtrArray *errors)
{
	static const FstProfileName endpoints[] = {
	    {"ats", FST_TRUST_ENDPOINT_ATS},
	    {"legacy", FST_TRUST_ENDPOINT_LEGACY},
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *budget = NULL;
	g_auto(GStrv) roots = NULL;
	guint endpoint = FST_TRUST_ENDPOINT_ATS;

	fst_profile_parse_enum(kf,
	                       self->path,
	                       contents,
	                       "trust",
	                       "endpoint",
	                       endpoints,
	                       G_N_ELEMENTS(endpoints),
	                       &endpoint,
	                       &error);
	fst_profile_keep(errors, &error);
	self->trust.endpoint = endpoint;
	/* every ATS root unless the profile says otherwise, as AWS advises */
	self->trust.include_reserved = TRUE;
	fst_profile_parse_bool(kf,
	                       self->path,
	                       contents,
	                       "trust",
	                       "include-reserved",
	                       &self->trust.include_reserved,
	                       &error);
	fst_profile_keep(errors, &error);
	fst_profile_parse_bool(kf,
	                       self->path,
	                       contents,
	                       "trust",
	                       "include-starfield",
	                       &self->trust.include_starfield,
	                       &error);
	fst_profile_keep(errors, &error);

	/* a cap below the device's capacity, e.g. to leave room for later roots */
	if (!fst_profile_get_string(kf, self->path, contents, "trust", "budget", &budget, &error)) {
		fst_profile_keep(errors, &error);
	} else if (budget != NULL) {
		gchar *endptr = NULL;
		guint64 val = g_ascii_strtoull(g_strstrip(budget), &endptr, 10);
		if (budget[0] < '0' || budget[0] > '9' || *endptr != '\0' || val == 0 ||
		    val > FST_PROFILE_TRUST_BUDGET_MAX) {
			g_autofree gchar *where =
			    fst_profile_where(self->path, contents, "trust", "budget");
			g_ptr_array_add(
			    errors,
			    g_error_new(FST_ERROR,
			                FST_ERROR_CONFIG,
			                "%s: '%s' is not a number of bytes from 1 to %u",
			                where,
			                budget,
			                (guint)FST_PROFILE_TRUST_BUDGET_MAX));
		} else {
			self->trust.budget = (guint32)val;
		}
	}

	/* an explicit list pins the roots: names of the catalogue, checked
	 * against it when a device is planned */
	if (!fst_profile_get_string_list(
	        kf, self->path, contents, "trust", "roots", &roots, &error)) {
		fst_profile_keep(errors, &error);
	} else if (roots != NULL) {
		g_autoptr(GStrvBuilder) names = g_strv_builder_new();
		guint n = 0;
		for (guint i = 0; roots[i] != NULL; i++) {
			g_strstrip(roots[i]);
			if (roots[i][0] == '\0')
				continue;
			if (!fst_profile_is_valid_name(roots[i])) {
				g_autofree gchar *where =
				    fst_profile_where(self->path, contents, "trust", "roots");
				g_ptr_array_add(
				    errors,
				    g_error_new(FST_ERROR,
				                FST_ERROR_CONFIG,
				                "%s: '%s' is not a root name (the file name "
				                "without .pem, e.g. AmazonRootCA1)",
				                where,
				                roots[i]));
				continue;
			}
			g_strv_builder_add(names, roots[i]);
			n++;
		}
		if (n == 0) {
			g_autofree gchar *where =
			    fst_profile_where(self->path, contents, "trust", "roots");
			g_ptr_array_add(errors,
			                g_error_new(FST_ERROR,
			                            FST_ERROR_CONFIG,
			                            "%s: names no root; remove the key to get the "
			                            "roots AWS advises",
			                            where));
		} else {
			self->trust.roots = g_strv_builder_end(names);
		}
	}
}

/*
 * GKeyFile merges a repeated group and keeps the last of a repeated key, so
 * a file that says one thing twice would mean whatever came last: refuse
 * both, naming the two lines.
 */
static void
fst_profile_check_repeats(const gchar *path, const gchar *contents, GPtrArray *errors)
{
	g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
	g_autoptr(GHashTable) groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GHashTable) keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree gchar *current = NULL;

	for (guint i = 0; lines[i] != NULL; i++) {
		g_autofree gchar *line = g_strstrip(g_strdup(lines[i]));
		const gchar *eq;
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (line[0] == '[') {
			const gchar *end = strrchr(line, ']');
			guint first;
			g_free(current);
			current = g_strndup(
			    line + 1, end != NULL ? (gsize)(end - line - 1) : strlen(line + 1));
			first = GPOINTER_TO_UINT(g_hash_table_lookup(groups, current));
			if (first != 0) {
				g_ptr_array_add(
				    errors,
				    g_error_new(FST_ERROR,
				                FST_ERROR_CONFIG,
				                "%s: [%s] (line %u) repeats the group of line "
				                "%u: give each group once",
				                path,
				                current,
				                i + 1,
				                first));
			} else {
				g_hash_table_insert(
				    groups, g_strdup(current), GUINT_TO_POINTER(i + 1));
			}
			continue;
		}
		eq = strchr(line, '=');
		if (eq != NULL && current != NULL) {
			g_autofree gchar *key = g_strndup(line, (gsize)(eq - line));
			g_autofree gchar *id = NULL;
			guint first;
			g_strchomp(key);
			id = g_strdup_printf("%s\n%s", current, key);
			first = GPOINTER_TO_UINT(g_hash_table_lookup(keys, id));
			if (first != 0) {
				g_ptr_array_add(
				    errors,
				    g_error_new(FST_ERROR,
				                FST_ERROR_CONFIG,
				                "%s: [%s] %s (line %u) repeats the key of line "
				                "%u: give each key once",
				                path,
				                current,
				                key,
				                i + 1,
				                first));
			} else {
				g_hash_table_insert(
				    keys, g_steal_pointer(&id), GUINT_TO_POINTER(i + 1));
			}
		}
	}
}

/*
 * One pass finds every error of a file: a check that fails keeps its error
 * in @errors and the parse goes on with the next key, so that
 * `fleetstation profile check` lists them all; fst_profile_load() fails with
 * the first. Only broken INI syntax stops it, as GKeyFile reads no further.
 */
static void
fst_profile_parse(FstProfile *self, const gchar *contents, gsize len, GPtrArray *errors)
{
	const gchar *path = self->path;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;

	if (!g_key_file_load_from_data(kf, contents, len, G_KEY_FILE_NONE, &error)) {
		g_ptr_array_add(errors,
		                g_error_new(FST_ERROR,
		                            FST_ERROR_CONFIG,
		                            "%s is not a valid profile (INI syntax): %s",
		                            path,
		                            error->message));
		return;
	}

	fst_profile_check_repeats(path, contents, errors);

	/* the job first: it decides which keys the file may and must have */
	fst_profile_parse_job(self, kf, contents, errors);
	fst_profile_check_keys(self, kf, contents, errors);

	/* [profile] */
	if (!fst_profile_get_string(kf, path, contents, "profile", "name", &self->name, &error)) {
		fst_profile_keep(errors, &error);
	} else if (self->name != NULL && !fst_profile_is_valid_name(self->name)) {
		fst_profile_fail(errors,
		                 path,
		                 contents,
		                 "profile",
		                 "name",
		                 "a name is 1 to 64 characters from a-z A-Z 0-9 . _ -");
	}
	fst_profile_get_string(
	    kf, path, contents, "profile", "description", &self->description, &error);
	fst_profile_keep(errors, &error);
	if (!fst_profile_get_string_list(
	        kf, path, contents, "profile", "models", &self->models, &error)) {
		fst_profile_keep(errors, &error);
	} else if (self->models != NULL && self->models[0] == NULL) {
		fst_profile_fail(errors,
		                 path,
		                 contents,
		                 "profile",
		                 "models",
		                 "list at least one model pattern, e.g. devsim-*");
	}
	for (guint i = 0; self->models != NULL && self->models[i] != NULL; i++) {
		if (g_strstrip(self->models[i])[0] == '\0') {
			fst_profile_fail(errors,
			                 path,
			                 contents,
			                 "profile",
			                 "models",
			                 "a model pattern is empty");
			break;
		}
	}

	/* the certificate: a trust-only profile issues none */
	if (self->job == FST_PROFILE_JOB_PROVISION) {
		fst_profile_parse_keys(self, kf, contents, errors);
		fst_profile_parse_subject(self, kf, contents, errors);
		fst_profile_parse_validity(self, kf, contents, errors);
		fst_profile_parse_signature(self, kf, contents, errors);
		fst_profile_parse_extensions(self, kf, contents, errors);
	}
	fst_profile_parse_burn(self, kf, contents, errors);
	fst_profile_parse_verify(self, kf, contents, errors);
	fst_profile_parse_trust(self, kf, contents, errors);
	if (self->job == FST_PROFILE_JOB_PROVISION)
		fst_profile_parse_aws(self, kf, contents, errors);
}

/**
 * fst_profile_check_file:
 * @path: a `.profile` file
 * @errors: (out) (transfer full) (element-type GError): every error of the
 *   file, in the order of the checks, when it is not a good profile
 *
 * Loads and checks a profile like fst_profile_load(), but goes on after an
 * error to find all of them (`fleetstation profile check`). A file that cannot
 * be read, is too large, is not UTF-8 or breaks the INI syntax gives one error.
 *
 * Returns: (transfer full): a new #FstProfile, or %NULL with @errors set
 */
FstProfile *
fst_profile_check_file(const gchar *path, GPtrArray **errors)
{
	g_autoptr(FstProfile) self = g_new0(FstProfile, 1);
	g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;
	gsize len = 0;

	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(errors != NULL, NULL);

	*errors = NULL;
	contents = fst_file_read_bounded(path, FST_PROFILE_MAX_SIZE, &len, &error);
	if (contents == NULL) {
		/* a file that cannot be a profile is a configuration error */
		if (error->code == FST_ERROR_INVALID_DATA)
			error->code = FST_ERROR_CONFIG;
		g_prefix_error(&error, "cannot read profile: ");
		g_ptr_array_add(found, g_steal_pointer(&error));
	} else if (memchr(contents, '\0', len) != NULL ||
	           !g_utf8_validate(contents, (gssize)len, NULL)) {
		g_ptr_array_add(
		    found,
		    g_error_new(FST_ERROR, FST_ERROR_CONFIG, "%s is not a UTF-8 text file", path));
	} else {
		self->path = g_strdup(path);
		self->content_sha256 =
		    g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)contents, len);
		fst_profile_parse(self, contents, len, found);
	}
	if (found->len > 0) {
		*errors = g_steal_pointer(&found);
		return NULL;
	}
	g_debug("loaded profile %s from %s", self->name, path);
	return g_steal_pointer(&self);
}

/**
 * fst_profile_load:
 * @path: a `.profile` file
 * @error: (nullable): return location
 *
 * Loads and checks a profile. Unknown groups or keys, missing required keys
 * and bad values are %FST_ERROR_CONFIG errors that name the file, the group,
 * the key and (when it can be found) the line; the first one found is
 * returned (fst_profile_check_file() gives them all). A missing file is
 * %FST_ERROR_NOT_FOUND.
 *
 * Returns: (transfer full): a new #FstProfile, or %NULL with @error set
 */
FstProfile *
fst_profile_load(const gchar *path, GError **error)
{
	g_autoptr(GPtrArray) errors = NULL;
	FstProfile *self = fst_profile_check_file(path, &errors);

	if (self == NULL) {
		g_propagate_error(error, g_error_copy(g_ptr_array_index(errors, 0)));
		return NULL;
	}
	return self;
}

/**
 * fst_profile_find:
 * @templates_dir: a directory with a `profiles/` folder: the templates, or
 *   a workspace
 * @name: a profile name, e.g. "aws-iot-ecc"
 * @error: (nullable): return location
 *
 * Loads `@templates_dir/profiles/@name.profile`. A name that could leave the
 * profiles directory is refused with %FST_ERROR_CONFIG; one that is not
 * there is %FST_ERROR_NOT_FOUND.
 *
 * Returns: (transfer full): a new #FstProfile, or %NULL with @error set
 */
FstProfile *
fst_profile_find(const gchar *templates_dir, const gchar *name, GError **error)
{
	g_autofree gchar *basename = NULL;
	g_autofree gchar *path = NULL;

	g_return_val_if_fail(templates_dir != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	if (!fst_profile_is_valid_name(name)) {
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_CONFIG,
		    "'%s' is not a profile name: use 1 to 64 characters from a-z A-Z 0-9 . _ -",
		    name);
		return NULL;
	}
	basename = g_strdup_printf("%s.profile", name);
	path = g_build_filename(templates_dir, "profiles", basename, NULL);
	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "no profile named %s: %s does not exist",
		            name,
		            path);
		return NULL;
	}
	return fst_profile_load(path, error);
}

/**
 * fst_profile_free:
 * @self: (nullable) (transfer full): an #FstProfile
 */
void
fst_profile_free(FstProfile *self)
{
	if (self == NULL)
		return;
	g_free(self->path);
	g_free(self->name);
	g_free(self->description);
	g_strfreev(self->models);
	g_free(self->content_sha256);
	g_free(self->cn_template);
	g_free(self->organization);
	g_free(self->san_dns);
	g_free(self->san_uri);
	g_free(self->escrow_cert);
	if (self->escrow_der != NULL)
		g_bytes_unref(self->escrow_der);
	g_free(self->escrow_sha256);
	g_strfreev(self->trust.roots);
	g_free(self->aws.region);
	g_free(self->aws.thing_name);
	g_free(self->aws.policy);
	g_free(self->aws.policy_file);
	g_free(self->aws.policy_document);
	g_free(self);
}

/**
 * fst_profile_get_name:
 * @self: an #FstProfile
 *
 * Returns: (transfer none): the profile's name, from its `[profile] name` key
 */
const gchar *
fst_profile_get_name(const FstProfile *self)
{
	return self->name;
}

/**
 * fst_profile_get_path:
 * @self: an #FstProfile
 *
 * Returns: (transfer none): the file the profile was loaded from
 */
const gchar *
fst_profile_get_path(const FstProfile *self)
{
	return self->path;
}

/**
 * fst_profile_get_content_sha256:
 * @self: an #FstProfile
 *
 * Returns: (transfer none): lower-case hex SHA-256 of the file's bytes, recorded
 * with each job so that a later change to the profile can be seen
 */
const gchar *
fst_profile_get_content_sha256(const FstProfile *self)
{
	return self->content_sha256;
}

/**
 * fst_profile_get_description:
 * @self: an #FstProfile
 *
 * Returns: (transfer none) (nullable): the free-text description
 */
const gchar *
fst_profile_get_description(const FstProfile *self)
{
	return self->description;
}

/**
 * fst_profile_check_device:
 * @self: an #FstProfile
 * @info: what the device said about itself
 * @error: (nullable): return location
 *
 * Checks the device may be provisioned with this profile: its model matches
 * one of the profile's patterns (else %FST_ERROR_CONFIG), and it can build a
 * CSR when the key source is device-csr (else %FST_ERROR_NOT_SUPPORTED).
 *
 * Returns: %TRUE if the device fits the profile
 */
gboolean
fst_profile_check_device(const FstProfile *self, const FstDeviceInfo *info, GError **error)
{
	gboolean matched = FALSE;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(info != NULL, FALSE);

	for (guint i = 0; info->model != NULL && self->models[i] != NULL; i++) {
		if (g_pattern_match_simple(self->models[i], info->model)) {
			matched = TRUE;
			break;
		}
	}
	if (!matched) {
		g_autofree gchar *models = g_strjoinv(";", self->models);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "device model %s does not match profile %s (models: %s): choose "
		            "another profile",
		            info->model != NULL ? info->model : "(none)",
		            self->name,
		            models);
		return FALSE;
	}
	if (self->key_source == FST_KEY_SOURCE_DEVICE_CSR && !info->can_csr) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "device %s cannot build a CSR, which profile %s needs (key-source "
		            "device-csr)",
		            info->uid != NULL ? info->uid : "(no uid)",
		            self->name);
		return FALSE;
	}
	if (self->key_source == FST_KEY_SOURCE_DEVICE_PUBLIC_KEY &&
	    (!info->can_export_key || !info->can_sign)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "device %s cannot %s, which profile %s needs (key-source "
		            "device-public-key); choose a profile with key-source device-csr",
		            info->uid != NULL ? info->uid : "(no uid)",
		            !info->can_export_key ? "export the public key of a key it makes"
		                                  : "sign a challenge to prove it holds its key",
		            self->name);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_profile_get_key_source:
 * @self: an #FstProfile
 *
 * Returns: where the device key comes from
 */
FstKeySource
fst_profile_get_key_source(const FstProfile *self)
{
	return self->key_source;
}

/**
 * fst_profile_get_issuer:
 * @self: an #FstProfile
 *
 * Returns: who signs the device certificates (`[profile] issuer`)
 */
FstProfileIssuer
fst_profile_get_issuer(const FstProfile *self)
{
	return self->issuer;
}

/**
 * fst_profile_choose_key_type:
 * @self: an #FstProfile
 * @info: what the device said about itself
 * @error: (nullable): return location
 *
 * Picks the first key type in the profile's order of preference that the
 * device can generate.
 *
 * Returns: a single #FstKeyType, or %FST_KEY_TYPE_NONE with
 * %FST_ERROR_NOT_SUPPORTED naming both lists
 */
FstKeyType
fst_profile_choose_key_type(const FstProfile *self, const FstDeviceInfo *info, GError **error)
{
	g_autofree gchar *wanted = NULL;
	g_autofree gchar *offered = NULL;

	g_return_val_if_fail(self != NULL, FST_KEY_TYPE_NONE);
	g_return_val_if_fail(info != NULL, FST_KEY_TYPE_NONE);

	for (guint i = 0; i < self->n_key_types; i++) {
		if (info->key_types & self->key_types[i])
			return self->key_types[i];
	}
	wanted = fst_key_types_to_string(self->key_types_mask);
	offered = fst_key_types_to_string(info->key_types);
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_NOT_SUPPORTED,
	            "device %s can generate %s but profile %s allows only %s: choose a profile "
	            "for this device",
	            info->uid != NULL ? info->uid : "(no uid)",
	            offered[0] != '\0' ? offered : "no key type",
	            self->name,
	            wanted);
	return FST_KEY_TYPE_NONE;
}

/**
 * fst_profile_get_allowed_key_types:
 * @self: an #FstProfile
 *
 * Returns: the #FstKeyType flags the profile accepts
 */
guint
fst_profile_get_allowed_key_types(const FstProfile *self)
{
	return self->key_types_mask;
}

/**
 * fst_profile_is_thing_name:
 * @str: a string
 *
 * Returns: %TRUE if @str is a valid AWS IoT thing name, `[a-zA-Z0-9:_-]{1,128}`
 */
gboolean
fst_profile_is_thing_name(const gchar *str)
{
	gsize len = 0;
	if (str == NULL)
		return FALSE;
	for (const gchar *p = str; *p != '\0'; p++, len++) {
		if (!fst_profile_is_thing_name_char(*p) || len >= FST_PROFILE_THING_NAME_MAX)
			return FALSE;
	}
	return len > 0;
}

/**
 * fst_profile_render_subject_cn:
 * @self: an #FstProfile
 * @info: what the device said about itself
 * @error: (nullable): return location
 *
 * Renders the `[subject] cn` template with the device's uid, model and
 * firmware. The result must be a valid AWS IoT thing name; if the device's
 * attributes make it anything else, this fails with %FST_ERROR_INVALID_DATA
 * naming the device.
 *
 * Returns: (transfer full): the common name, or %NULL with @error set
 */
gchar *
fst_profile_render_subject_cn(const FstProfile *self, const FstDeviceInfo *info, GError **error)
{
	g_autoptr(GString) cn = NULL;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(info != NULL, NULL);

	cn = fst_profile_render(self->cn_template, info, FST_PROFILE_THING_NAME_MAX);
	if (!fst_profile_is_thing_name(cn->str)) {
		g_autofree gchar *shown = NULL;
		g_string_truncate(cn, MIN(cn->len, (gsize)FST_PROFILE_THING_NAME_MAX + 1));
		shown = g_strescape(cn->str, NULL);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s: certificate CN \"%s\" rendered from profile %s is not a "
		            "valid AWS IoT thing name (1 to 128 of a-z A-Z 0-9 : _ -): check the "
		            "device's uid and model",
		            info->uid != NULL ? info->uid : "(no uid)",
		            shown,
		            self->name);
		return NULL;
	}
	return g_string_free(g_steal_pointer(&cn), FALSE);
}

/**
 * fst_profile_get_subject_organization:
 * @self: an #FstProfile
 *
 * Returns: (transfer none): the O of the device certificate subject
 */
const gchar *
fst_profile_get_subject_organization(const FstProfile *self)
{
	return self->organization;
}

/**
 * fst_profile_get_validity_days:
 * @self: an #FstProfile
 *
 * Returns: how many days a device certificate is valid
 */
guint
fst_profile_get_validity_days(const FstProfile *self)
{
	return self->validity_days;
}

/**
 * fst_profile_get_append_ca:
 * @self: an #FstProfile
 *
 * Returns: %TRUE if the issuing CA certificate is appended to the device
 * certificate object (AWS IoT just-in-time provisioning needs it)
 */
gboolean
fst_profile_get_append_ca(const FstProfile *self)
{
	return self->append_ca;
}

/**
 * fst_profile_get_trust_options:
 * @self: an #FstProfile
 *
 * Returns: (transfer none): which trust roots the device should get
 */
const FstTrustOptions *
fst_profile_get_trust_options(const FstProfile *self)
{
	return &self->trust;
}

/**
 * fst_profile_get_not_after:
 * @self: an #FstProfile
 * @now: unix seconds, the time of issuance
 *
 * Returns: the end of a certificate issued at @now: @now plus `[validity]
 * days`, or the fixed `not-after`
 */
gint64
fst_profile_get_not_after(const FstProfile *self, gint64 now)
{
	if (self->not_after_fixed != 0)
		return self->not_after_fixed;
	return now + (gint64)self->validity_days * 86400;
}

/**
 * fst_profile_get_allow_outlive_ca:
 * @self: an #FstProfile
 *
 * Returns: %TRUE if the profile explicitly allows a device certificate to end
 * after its issuing CA (`[validity] allow-outlive-ca=true`)
 */
gboolean
fst_profile_get_allow_outlive_ca(const FstProfile *self)
{
	return self->allow_outlive_ca;
}

/**
 * fst_profile_get_digest:
 * @self: an #FstProfile
 *
 * Returns: the signature digest, or %FST_PROFILE_DIGEST_AUTO to let the CA key
 * decide
 */
FstProfileDigest
fst_profile_get_digest(const FstProfile *self)
{
	return self->digest;
}

/**
 * fst_profile_get_rsa_pss:
 * @self: an #FstProfile
 *
 * Returns: %TRUE if an RSA CA signs with RSASSA-PSS rather than PKCS#1 v1.5
 */
gboolean
fst_profile_get_rsa_pss(const FstProfile *self)
{
	return self->rsa_pss;
}

/**
 * fst_profile_get_key_usage:
 * @self: an #FstProfile
 *
 * Returns: #FstProfileKeyUsage flags, or %FST_PROFILE_KEY_USAGE_DEFAULT
 */
guint
fst_profile_get_key_usage(const FstProfile *self)
{
	return self->key_usage;
}

/**
 * fst_profile_get_ext_key_usage:
 * @self: an #FstProfile
 *
 * Returns: #FstProfileExtKeyUsage flags (clientAuth unless the profile says)
 */
guint
fst_profile_get_ext_key_usage(const FstProfile *self)
{
	return self->ext_key_usage;
}

/**
 * fst_profile_get_subject_key_id:
 * @self: an #FstProfile
 *
 * Returns: %TRUE if device certificates carry a subjectKeyIdentifier
 */
gboolean
fst_profile_get_subject_key_id(const FstProfile *self)
{
	return self->subject_key_id;
}

/**
 * fst_profile_get_authority_key_id:
 * @self: an #FstProfile
 *
 * Returns: %TRUE if device certificates carry an authorityKeyIdentifier
 */
gboolean
fst_profile_get_authority_key_id(const FstProfile *self)
{
	return self->authority_key_id;
}

/* DNS name: labels of 1 to 63 letters, digits and hyphens, 253 in all */
static gboolean
fst_profile_is_dns_name(const gchar *str)
{
	g_auto(GStrv) labels = NULL;

	if (str[0] == '\0' || strlen(str) > 253)
		return FALSE;
	labels = g_strsplit(str, ".", -1);
	for (guint i = 0; labels[i] != NULL; i++) {
		gsize len = strlen(labels[i]);
		if (len == 0 || len > 63 || labels[i][0] == '-' || labels[i][len - 1] == '-')
			return FALSE;
		for (gsize j = 0; j < len; j++) {
			if (!g_ascii_isalnum(labels[i][j]) && labels[i][j] != '-')
				return FALSE;
		}
	}
	return TRUE;
}

static gboolean
fst_profile_is_uri(const gchar *str)
{
	if (str[0] == '\0' || strlen(str) > 1024 || !g_ascii_isalpha(str[0]) ||
	    strchr(str, ':') == NULL)
		return FALSE;
	for (const gchar *p = str; *p != '\0'; p++) {
		if (!fst_profile_is_uri_char(*p))
			return FALSE;
	}
	return TRUE;
}

static gchar *
fst_profile_render_san(const FstProfile *self,
                       const FstDeviceInfo *info,
                       const gchar *tmpl,
                       const gchar *what,
                       gboolean (*check)(const gchar *str),
                       GError **error)
{
	g_autoptr(GString) out = NULL;
	g_autofree gchar *shown = NULL;

	if (tmpl == NULL)
		return NULL;
	out = fst_profile_render(tmpl, info, 1024);
	if (check(out->str))
		return g_string_free(g_steal_pointer(&out), FALSE);
	g_string_truncate(out, MIN(out->len, (gsize)1025));
	shown = g_strescape(out->str, NULL);
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_INVALID_DATA,
	            "device %s: subjectAltName \"%s\" rendered from profile %s is not a valid "
	            "%s: check the device's uid and model",
	            info->uid != NULL ? info->uid : "(no uid)",
	            shown,
	            self->name,
	            what);
	return NULL;
}

/**
 * fst_profile_render_san_dns:
 * @self: an #FstProfile
 * @info: what the device said about itself
 * @error: (nullable): return location
 *
 * Renders `[extensions] san-dns`. Returns %NULL without an error when the
 * profile asks for no DNS name; fails with %FST_ERROR_INVALID_DATA when the
 * device's attributes do not make a valid DNS name.
 *
 * Returns: (transfer full) (nullable): the DNS name
 */
gchar *
fst_profile_render_san_dns(const FstProfile *self, const FstDeviceInfo *info, GError **error)
{
	return fst_profile_render_san(
	    self, info, self->san_dns, "DNS name", fst_profile_is_dns_name, error);
}

/**
 * fst_profile_render_san_uri:
 * @self: an #FstProfile
 * @info: what the device said about itself
 * @error: (nullable): return location
 *
 * Renders `[extensions] san-uri`, like fst_profile_render_san_dns().
 *
 * Returns: (transfer full) (nullable): the URI
 */
gchar *
fst_profile_render_san_uri(const FstProfile *self, const FstDeviceInfo *info, GError **error)
{
	return fst_profile_render_san(self, info, self->san_uri, "URI", fst_profile_is_uri, error);
}

/**
 * fst_profile_get_format:
 * @self: an #FstProfile
 *
 * Returns: how certificates are written, or %FST_PROFILE_FORMAT_DEVICE to
 * follow the device
 */
FstProfileFormat
fst_profile_get_format(const FstProfile *self)
{
	return self->format;
}

/**
 * fst_profile_get_burn_object:
 * @self: an #FstProfile
 * @kind: an object
 *
 * Returns: %TRUE if @kind is burned (`[burn] objects`; all by default)
 */
gboolean
fst_profile_get_burn_object(const FstProfile *self, FstObjectKind kind)
{
	return (self->burn_objects & (1u << kind)) != 0;
}

/**
 * fst_profile_get_sec_tag:
 * @self: an #FstProfile
 *
 * Returns: the nRF91 modem sec_tag the credentials go to, or -1 if not set
 */
gint64
fst_profile_get_sec_tag(const FstProfile *self)
{
	return self->sec_tag;
}

/**
 * fst_profile_get_verify:
 * @self: an #FstProfile
 *
 * Returns: how burned objects are verified (`[burn] verify`, auto by default)
 */
FstProfileVerify
fst_profile_get_verify(const FstProfile *self)
{
	return self->verify;
}

/**
 * fst_profile_get_escrow_cert:
 * @self: an #FstProfile
 *
 * Returns: (transfer none) (nullable): the PEM certificate station-generated
 *   keys are escrowed to (CMS-enveloped), or %NULL: keys are never stored
 */
const gchar *
fst_profile_get_escrow_cert(const FstProfile *self)
{
	return self->escrow_cert;
}

/**
 * fst_profile_get_escrow_cert_der:
 * @self: an #FstProfile
 * @sha256: (out) (optional) (transfer none): the SHA-256 (hex) of the DER,
 *   as the database records the escrow recipient
 *
 * Returns: (transfer none) (nullable): the escrow certificate, DER, read when
 *   the profile was loaded, or %NULL without one
 */
GBytes *
fst_profile_get_escrow_cert_der(const FstProfile *self, const gchar **sha256)
{
	if (sha256 != NULL)
		*sha256 = self->escrow_sha256;
	return self->escrow_der;
}

/**
 * fst_profile_get_job:
 * @self: an #FstProfile
 *
 * Returns: what a job with this profile does (`[profile] job`)
 */
FstProfileJob
fst_profile_get_job(const FstProfile *self)
{
	return self->job;
}

/**
 * fst_profile_get_on_return:
 * @self: an #FstProfile
 *
 * Returns: what to do with a device that comes back with an active
 *   certificate (`[profile] on-return`)
 */
FstProfileOnReturn
fst_profile_get_on_return(const FstProfile *self)
{
	return self->on_return;
}

/**
 * fst_profile_get_credential_slots:
 * @self: an #FstProfile
 *
 * Returns: how a re-provisioned device gets its new credentials
 *   (`[profile] credential-slots`)
 */
FstProfileSlots
fst_profile_get_credential_slots(const FstProfile *self)
{
	return self->slots;
}

static const gchar *
fst_profile_key_source_to_string(FstKeySource source)
{
	switch (source) {
	case FST_KEY_SOURCE_DEVICE_CSR:
		return "device-csr";
	case FST_KEY_SOURCE_DEVICE_PUBLIC_KEY:
		return "device-public-key";
	case FST_KEY_SOURCE_STATION_GENERATED:
		return "station-generated";
	default:
		break;
	}
	return "unknown";
}

/**
 * fst_profile_describe:
 * @self: an #FstProfile
 *
 * A one-line summary for `fleetstation profile check`.
 *
 * Returns: (transfer full): e.g. "aws-iot-ecc: device-csr ec-p256, 3650 days"
 */
gchar *
fst_profile_describe(const FstProfile *self)
{
	static const gchar *digests[] = {"by CA key", "sha256", "sha384", "sha512"};
	g_autofree gchar *key_types = fst_key_types_to_string(self->key_types_mask);
	g_autofree gchar *validity = NULL;
	g_autoptr(GString) burn = NULL;

	if (self->not_after_fixed != 0) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(self->not_after_fixed);
		validity = g_date_time_format(dt, "until %Y-%m-%dT%H:%M:%SZ");
	} else {
		validity = fst_time_count(self->validity_days, "day");
	}
	burn = g_string_new(NULL);
	if (self->format != FST_PROFILE_FORMAT_DEVICE)
		g_string_append(burn, self->format == FST_PROFILE_FORMAT_PEM ? ", PEM" : ", DER");
	if (!fst_profile_get_burn_object(self, FST_OBJECT_CA_CHAIN))
		g_string_append(burn, ", no CA chain object");
	if (!fst_profile_get_burn_object(self, FST_OBJECT_TRUST_ROOTS))
		g_string_append(burn, ", no root CAs");
	if (self->sec_tag >= 0)
		g_string_append_printf(burn, ", sec_tag %" G_GINT64_FORMAT, self->sec_tag);
	if (self->verify == FST_PROFILE_VERIFY_DIGEST)
		g_string_append(burn, ", verified by device digest");
	else if (self->verify == FST_PROFILE_VERIFY_READBACK)
		g_string_append(burn, ", verified by read-back");
	/* the roots, when not every ATS root that fits */
	if (self->trust.roots != NULL) {
		g_autofree gchar *pinned = g_strjoinv(";", self->trust.roots);
		g_string_append_printf(burn, ", roots pinned: %s", pinned);
	} else if (!self->trust.include_reserved) {
		g_string_append(burn, ", roots without the reserved CA 2/4");
	}
	if (self->trust.budget > 0)
		g_string_append_printf(
		    burn, ", at most %u bytes of roots", (guint)self->trust.budget);
	if (self->job == FST_PROFILE_JOB_TRUST_ONLY)
		return g_strdup_printf("%s: trust-only (rewrites the root CAs of provisioned "
		                       "devices)%s",
		                       self->name,
		                       burn->str);
	if (self->on_return == FST_PROFILE_ON_RETURN_REPROVISION)
		g_string_append_printf(burn,
		                       ", re-provisions devices that come back (%s)",
		                       self->slots == FST_PROFILE_SLOTS_AB ? "A/B slots"
		                                                           : "single slot");
	return g_strdup_printf("%s: %s %s, %s%s, digest %s%s%s%s",
	                       self->name,
	                       fst_profile_key_source_to_string(self->key_source),
	                       key_types,
	                       validity,
	                       self->allow_outlive_ca ? " (may outlive the CA)" : "",
	                       digests[self->digest],
	                       self->rsa_pss ? ", RSA-PSS" : "",
	                       self->append_ca ? ", CA appended (JITP)" : "",
	                       burn->str);
}

/**
 * fst_profile_get_aws:
 * @self: an #FstProfile
 *
 * Returns: (transfer none): the profile's `[aws]` settings; all unset (no
 *   registration) when it has none
 */
const FstProfileAws *
fst_profile_get_aws(const FstProfile *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return &self->aws;
}

/**
 * fst_profile_get_register_target:
 * @self: an #FstProfile
 *
 * Returns: (transfer full) (nullable): `aws-iot:<region>`
 *   (fst_aws_iot_target()) when the profile registers its certificates with
 *   AWS IoT, else %NULL
 */
gchar *
fst_profile_get_register_target(const FstProfile *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	if (!self->aws.register_certs || self->aws.region == NULL)
		return NULL;
	return fst_aws_iot_target(self->aws.region);
}
