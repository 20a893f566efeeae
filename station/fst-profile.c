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

#include "fst-profile.h"

#include <string.h>

#include "fst-error.h"

/* a profile is a few hundred bytes; anything much larger is not one */
#define FST_PROFILE_MAX_SIZE (64 * 1024)
/* AWS IoT thing names: [a-zA-Z0-9:_-]{1,128} */
#define FST_PROFILE_THING_NAME_MAX 128
/* X.520 ub-organization-name */
#define FST_PROFILE_ORGANIZATION_MAX 64
/* a device certificate valid for more than 50 years is a typo */
#define FST_PROFILE_VALIDITY_DAYS_MAX (50 * 366)
#define FST_PROFILE_MAX_KEY_TYPES 6

struct _FstProfile {
	gchar *path;           /* (owned) */
	gchar *name;           /* (owned) */
	gchar *description;    /* (owned) (nullable) */
	gchar **models;        /* (owned): glob patterns */
	gchar *content_sha256; /* (owned) */
	FstKeySource key_source;
	FstKeyType key_types[FST_PROFILE_MAX_KEY_TYPES]; /* in order of preference */
	guint n_key_types;
	guint key_types_mask;
	gchar *cn_template;  /* (owned) */
	gchar *organization; /* (owned) */
	guint validity_days;
	gboolean append_ca;
	FstTrustOptions trust;
};

/* every group and key a profile may hold */
static const struct {
	const gchar *group;
	const gchar *key;
	gboolean required;
} fst_profile_keys[] = {
    {"profile", "name", TRUE},
    {"profile", "description", FALSE},
    {"profile", "models", TRUE},
    {"profile", "key-source", FALSE},
    {"profile", "key-types", TRUE},
    {"subject", "cn", TRUE},
    {"subject", "o", TRUE},
    {"validity", "days", TRUE},
    {"burn", "append-ca", FALSE},
    {"trust", "endpoint", FALSE},
    {"trust", "include-reserved", FALSE},
    {"trust", "include-starfield", FALSE},
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

/*
 * Checks a CN template: literal text must already be thing-name characters
 * and every {placeholder} must be known. Returns a reason, or NULL if good.
 */
static gchar *
fst_profile_check_cn_template(const gchar *tmpl)
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
		if (!fst_profile_is_thing_name_char(*p)) {
			return g_strdup_printf("contains '%c', which an AWS IoT thing name cannot "
			                       "hold (allowed: a-z A-Z 0-9 : _ -)",
			                       g_ascii_isprint(*p) ? *p : '?');
		}
	}
	return NULL;
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

static gboolean
fst_profile_parse(FstProfile *self, const gchar *contents, gsize len, GError **error)
{
	const gchar *path = self->path;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	g_auto(GStrv) groups = NULL;
	g_auto(GStrv) key_types = NULL;
	g_autofree gchar *key_source = NULL;
	g_autofree gchar *endpoint = NULL;
	g_autofree gchar *days = NULL;
	g_autofree gchar *reason = NULL;
	gchar *endptr = NULL;
	guint64 days_val;

	if (!g_key_file_load_from_data(kf, contents, len, G_KEY_FILE_NONE, &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s is not a valid profile (INI syntax): %s",
		            path,
		            error_local->message);
		return FALSE;
	}

	/* unknown groups and keys are errors: a typo must not be ignored */
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		g_auto(GStrv) keys = g_key_file_get_keys(kf, groups[i], NULL, NULL);
		gboolean group_known = FALSE;
		for (guint k = 0; k < G_N_ELEMENTS(fst_profile_keys); k++) {
			if (g_strcmp0(fst_profile_keys[k].group, groups[i]) == 0)
				group_known = TRUE;
		}
		if (!group_known) {
			g_autofree gchar *where =
			    fst_profile_where(path, contents, groups[i], NULL);
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: unknown group (known: profile, subject, validity, burn, "
			            "trust)",
			            where);
			return FALSE;
		}
		for (guint j = 0; keys != NULL && keys[j] != NULL; j++) {
			gboolean key_known = FALSE;
			for (guint k = 0; k < G_N_ELEMENTS(fst_profile_keys); k++) {
				if (g_strcmp0(fst_profile_keys[k].group, groups[i]) == 0 &&
				    g_strcmp0(fst_profile_keys[k].key, keys[j]) == 0)
					key_known = TRUE;
			}
			if (!key_known) {
				g_autofree gchar *where =
				    fst_profile_where(path, contents, groups[i], keys[j]);
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_CONFIG,
				            "%s: unknown key (see templates/profiles/README.md)",
				            where);
				return FALSE;
			}
		}
	}
	for (guint k = 0; k < G_N_ELEMENTS(fst_profile_keys); k++) {
		if (fst_profile_keys[k].required &&
		    !g_key_file_has_key(
		        kf, fst_profile_keys[k].group, fst_profile_keys[k].key, NULL)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: [%s] %s is missing: it is required",
			            path,
			            fst_profile_keys[k].group,
			            fst_profile_keys[k].key);
			return FALSE;
		}
	}

	/* [profile] */
	if (!fst_profile_get_string(kf, path, contents, "profile", "name", &self->name, error))
		return FALSE;
	if (!fst_profile_is_valid_name(self->name)) {
		g_autofree gchar *where = fst_profile_where(path, contents, "profile", "name");
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s: a name is 1 to 64 characters from a-z A-Z 0-9 . _ -",
		            where);
		return FALSE;
	}
	if (!fst_profile_get_string(
	        kf, path, contents, "profile", "description", &self->description, error))
		return FALSE;
	if (!fst_profile_get_string_list(
	        kf, path, contents, "profile", "models", &self->models, error))
		return FALSE;
	if (self->models == NULL || self->models[0] == NULL) {
		g_autofree gchar *where = fst_profile_where(path, contents, "profile", "models");
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s: list at least one model pattern, e.g. devsim-*",
		            where);
		return FALSE;
	}
	for (guint i = 0; self->models[i] != NULL; i++) {
		if (g_strstrip(self->models[i])[0] == '\0') {
			g_autofree gchar *where =
			    fst_profile_where(path, contents, "profile", "models");
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: a model pattern is empty",
			            where);
			return FALSE;
		}
	}

	if (!fst_profile_get_string(
	        kf, path, contents, "profile", "key-source", &key_source, error))
		return FALSE;
	if (key_source != NULL && g_strcmp0(key_source, "device-csr") != 0) {
		g_autofree gchar *where =
		    fst_profile_where(path, contents, "profile", "key-source");
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s: '%s' is not supported (supported: device-csr)",
		            where,
		            key_source);
		return FALSE;
	}
	self->key_source = FST_KEY_SOURCE_DEVICE_CSR;

	if (!fst_profile_get_string_list(
	        kf, path, contents, "profile", "key-types", &key_types, error))
		return FALSE;
	for (guint i = 0; key_types != NULL && key_types[i] != NULL; i++) {
		FstKeyType kt = fst_key_type_from_string(g_strstrip(key_types[i]));
		g_autofree gchar *where = NULL;
		if (kt == FST_KEY_TYPE_NONE) {
			where = fst_profile_where(path, contents, "profile", "key-types");
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: unknown key type '%s' (known: ec-p256, ec-p384, ec-p521, "
			            "rsa-2048, rsa-3072, rsa-4096)",
			            where,
			            key_types[i]);
			return FALSE;
		}
		if (self->key_types_mask & kt) {
			where = fst_profile_where(path, contents, "profile", "key-types");
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: key type '%s' is listed twice",
			            where,
			            key_types[i]);
			return FALSE;
		}
		self->key_types[self->n_key_types++] = kt;
		self->key_types_mask |= kt;
	}
	if (self->n_key_types == 0) {
		g_autofree gchar *where = fst_profile_where(path, contents, "profile", "key-types");
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s: list at least one key type, e.g. ec-p256",
		            where);
		return FALSE;
	}

	/* [subject] */
	if (!fst_profile_get_string(kf, path, contents, "subject", "cn", &self->cn_template, error))
		return FALSE;
	reason = fst_profile_check_cn_template(self->cn_template);
	if (reason != NULL) {
		g_autofree gchar *where = fst_profile_where(path, contents, "subject", "cn");
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CONFIG, "%s: the template %s", where, reason);
		return FALSE;
	}
	if (!fst_profile_get_string(kf, path, contents, "subject", "o", &self->organization, error))
		return FALSE;
	if (self->organization[0] == '\0' ||
	    g_utf8_strlen(self->organization, -1) > FST_PROFILE_ORGANIZATION_MAX) {
		g_autofree gchar *where = fst_profile_where(path, contents, "subject", "o");
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s: the organization must be 1 to %u UTF-8 characters",
		            where,
		            (guint)FST_PROFILE_ORGANIZATION_MAX);
		return FALSE;
	}

	/* [validity] */
	if (!fst_profile_get_string(kf, path, contents, "validity", "days", &days, error))
		return FALSE;
	days_val = g_ascii_strtoull(days, &endptr, 10);
	if (days[0] < '0' || days[0] > '9' || *endptr != '\0' || days_val == 0 ||
	    days_val > FST_PROFILE_VALIDITY_DAYS_MAX) {
		g_autofree gchar *where = fst_profile_where(path, contents, "validity", "days");
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s: '%s' is not a number of days from 1 to %u",
		            where,
		            days,
		            (guint)FST_PROFILE_VALIDITY_DAYS_MAX);
		return FALSE;
	}
	self->validity_days = (guint)days_val;

	/* [burn] */
	if (!fst_profile_parse_bool(
	        kf, path, contents, "burn", "append-ca", &self->append_ca, error))
		return FALSE;

	/* [trust] */
	self->trust.endpoint = FST_TRUST_ENDPOINT_ATS;
	if (!fst_profile_get_string(kf, path, contents, "trust", "endpoint", &endpoint, error))
		return FALSE;
	if (g_strcmp0(endpoint, "legacy") == 0) {
		self->trust.endpoint = FST_TRUST_ENDPOINT_LEGACY;
	} else if (endpoint != NULL && g_strcmp0(endpoint, "ats") != 0) {
		g_autofree gchar *where = fst_profile_where(path, contents, "trust", "endpoint");
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s: '%s' is not an endpoint kind (ats or legacy)",
		            where,
		            endpoint);
		return FALSE;
	}
	if (!fst_profile_parse_bool(kf,
	                            path,
	                            contents,
	                            "trust",
	                            "include-reserved",
	                            &self->trust.include_reserved,
	                            error))
		return FALSE;
	if (!fst_profile_parse_bool(kf,
	                            path,
	                            contents,
	                            "trust",
	                            "include-starfield",
	                            &self->trust.include_starfield,
	                            error))
		return FALSE;
	return TRUE;
}

/**
 * fst_profile_load:
 * @path: a `.profile` file
 * @error: (nullable): return location
 *
 * Loads and checks a profile. Unknown groups or keys, missing required keys
 * and bad values are %FST_ERROR_CONFIG errors that name the file, the group,
 * the key and (when it can be found) the line. A missing file is
 * %FST_ERROR_NOT_FOUND.
 *
 * Returns: (transfer full): a new #FstProfile, or %NULL with @error set
 */
FstProfile *
fst_profile_load(const gchar *path, GError **error)
{
	g_autoptr(FstProfile) self = g_new0(FstProfile, 1);
	g_autofree gchar *contents = NULL;
	gsize len = 0;

	g_return_val_if_fail(path != NULL, NULL);

	if (!g_file_get_contents(path, &contents, &len, error)) {
		fst_error_convert_gio(error);
		g_prefix_error(error, "cannot read profile: ");
		return NULL;
	}
	if (len > FST_PROFILE_MAX_SIZE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s is %" G_GSIZE_FORMAT " bytes, more than a profile can be (%u)",
		            path,
		            len,
		            (guint)FST_PROFILE_MAX_SIZE);
		return NULL;
	}
	if (memchr(contents, '\0', len) != NULL || !g_utf8_validate(contents, (gssize)len, NULL)) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CONFIG, "%s is not a UTF-8 text file", path);
		return NULL;
	}
	self->path = g_strdup(path);
	self->content_sha256 =
	    g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)contents, len);
	if (!fst_profile_parse(self, contents, len, error))
		return NULL;
	g_debug("loaded profile %s from %s", self->name, path);
	return g_steal_pointer(&self);
}

/**
 * fst_profile_find:
 * @templates_dir: the templates directory
 * @name: a profile name, e.g. "aws-iot-ecc"
 * @error: (nullable): return location
 *
 * Loads `@templates_dir/profiles/@name.profile`. A name that could leave the
 * profiles directory is refused with %FST_ERROR_CONFIG.
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
	g_autoptr(GString) cn = g_string_new(NULL);

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(info != NULL, NULL);

	for (const gchar *p = self->cn_template; *p != '\0'; p++) {
		const gchar *value = NULL;
		const gchar *end;
		if (*p != '{') {
			g_string_append_c(cn, *p);
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
			g_string_append(cn, value);
		/* stop growing as soon as it cannot be a thing name anyway */
		if (cn->len > FST_PROFILE_THING_NAME_MAX)
			break;
		p = end;
	}
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
