/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS credentials found as the AWS CLI finds them:
 *
 *  - keys: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 *    (unless a profile was named on the command line, which overrides them),
 *    then the profile's section of the shared credentials file
 *    ($AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials), then the
 *    `credential_process` of the profile's section of the config file
 *    ($AWS_CONFIG_FILE, else ~/.aws/config), then that section's keys; the
 *    section is `[profile NAME]` (`[default]`);
 *  - the profile: the command line, else AWS_PROFILE, else "default";
 *  - the region: the command line, else AWS_REGION, else AWS_DEFAULT_REGION,
 *    else the profile's `region` in the config file;
 *  - the endpoint: the command line, else AWS_ENDPOINT_URL_IOT, else
 *    AWS_ENDPOINT_URL, else the profile's `endpoint_url`.
 *
 * The files are INI text: `[section]`, `key = value`, `#` and `;` comments;
 * indented lines (nested settings such as `s3 =`) are skipped. The file
 * buffers are wiped after parsing, and the keys end up in FstSecret only.
 *
 * Keys read from the files are read again when the files change
 * (fst_aws_credentials_refresh()): temporary credentials that a helper keeps
 * fresh there (IAM Roles Anywhere's `aws_signing_helper update`, a cron job)
 * reach a station that runs for days.
 *
 * `credential_process` runs a helper as the AWS CLI does (IAM Roles
 * Anywhere's `aws_signing_helper credential-process`, a vault client): the
 * command is split as a POSIX shell would split it, but run without a
 * shell; its standard error is the station's; it must exit 0 and print one
 * JSON object, `{"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ...,
 * "SessionToken": ... (optional), "Expiration": "ISO 8601" (optional)}`.
 * The secret members are taken out of the text before a JSON parser sees it
 * (fst_json_take_secret()) and the text is wiped. Keys with an
 * Expiration are fetched again by fst_aws_credentials_refresh() from 10
 * minutes before it (the AWS CLI's mandatory refresh), and after AWS
 * refuses them as expired; keys without one are kept, as the CLI keeps them.
 * The holder the others copy their keys from (the station, for its lanes)
 * fetches them from 15 minutes before (fst_aws_credentials_refresh_ahead(),
 * the CLI's advisory refresh), on a copy outside its lock, so that the
 * copies seldom run the helper themselves. A helper that has not finished
 * within a minute (the AWS SDK for Go's limit; the CLI sets none) is killed,
 * and the run fails as a helper that exits non-zero does: a line never waits
 * on a hung helper for more than that. Where the station runs in its
 * terminal's foreground (a command typed at a shell), the helper stays in
 * the station's process group, as the AWS CLI runs it: it may ask for a code
 * on the terminal, and Ctrl-C reaches it with the station. Elsewhere (the
 * GUI, a batch job, a service) it gets a process group of its own, killed
 * whole at the limit with anything it started.
 */

#define G_LOG_DOMAIN "FstAwsCredentials"

#include "fst-aws-credentials.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fst-json.h"
#include "fst-error.h"

/* keys from a credential_process are fetched again this long before they
 * expire (seconds): by every holder (the AWS CLI's mandatory refresh), and
 * ahead of that by the one holder that shares them out (its advisory
 * refresh, fst_aws_credentials_refresh_ahead()); a failed run is tried
 * again after FST_AWS_PROCESS_RETRY_US */
#define FST_AWS_PROCESS_REFRESH_S (10 * 60)
#define FST_AWS_PROCESS_AHEAD_S (15 * 60)
#define FST_AWS_PROCESS_RETRY_US (30 * G_USEC_PER_SEC)
/* what a credential_process may print (its JSON takes about 2 KiB) */
#define FST_AWS_PROCESS_MAX_OUTPUT (64 * 1024)
/* how long a credential_process may run, milliseconds */
#define FST_AWS_PROCESS_LIMIT_MS (60 * 1000)

/**
 * fst_aws_credentials_free:
 * @self: (nullable): an #FstAwsCredentials
 *
 * Frees the credentials, wiping the secret parts.
 */
void
fst_aws_credentials_free(FstAwsCredentials *self)
{
	if (self == NULL)
		return;
	g_free(self->access_key_id);
	if (self->secret_access_key != NULL)
		fst_secret_free(self->secret_access_key);
	if (self->session_token != NULL)
		fst_secret_free(self->session_token);
	g_free(self->region);
	g_free(self->endpoint_url);
	g_free(self->profile);
	g_free(self->source);
	g_free(self->files_stamp);
	g_free(self->process);
	g_free(self->load_profile);
	g_free(self->load_region);
	g_free(self->load_endpoint);
	g_free(self);
}

static gboolean
fst_aws_secret_empty(const FstSecret *secret)
{
	gsize len = 0;

	if (secret != NULL)
		(void)fst_secret_get_data(secret, &len);
	return len == 0;
}

static FstSecret *
fst_aws_secret_from_str(const gchar *text)
{
	if (text == NULL || text[0] == '\0')
		return NULL;
	return fst_secret_new((const guint8 *)text, strlen(text));
}

/**
 * fst_aws_credentials_new:
 * @access_key_id: the access key id
 * @secret_access_key: the secret access key
 * @session_token: (nullable): the session token
 * @region: (nullable): the region
 * @endpoint_url: (nullable): another endpoint
 *
 * Makes credentials from given values (tests, and callers that hold the keys
 * elsewhere). The caller wipes its own copies.
 *
 * Returns: (transfer full): the credentials
 */
FstAwsCredentials *
fst_aws_credentials_new(const gchar *access_key_id,
                        const gchar *secret_access_key,
                        const gchar *session_token,
                        const gchar *region,
                        const gchar *endpoint_url)
{
	FstAwsCredentials *self = g_new0(FstAwsCredentials, 1);
	self->access_key_id = g_strdup(access_key_id);
	self->secret_access_key = fst_aws_secret_from_str(secret_access_key);
	self->session_token = fst_aws_secret_from_str(session_token);
	self->region = g_strdup(region);
	self->endpoint_url = g_strdup(endpoint_url);
	self->profile = g_strdup("default");
	self->source = g_strdup("caller");
	return self;
}

static void
fst_aws_wipe_free(gpointer data)
{
	gchar *text = data;
	if (text == NULL)
		return;
	OPENSSL_cleanse(text, strlen(text));
	g_free(text);
}

/* the keys of section @section of INI file @path, or NULL if the file does
 * not exist; values are wiped when the table is destroyed */
static GHashTable *
fst_aws_ini_section(const gchar *path, const gchar *section, gboolean *found, GError **error)
{
	g_autoptr(GHashTable) keys =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, fst_aws_wipe_free);
	g_autoptr(GError) error_local = NULL;
	gchar *contents = NULL;
	gsize len = 0;
	gboolean in_section = FALSE;
	g_auto(GStrv) lines = NULL;

	*found = FALSE;
	if (!g_file_get_contents(path, &contents, &len, &error_local)) {
		if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return g_steal_pointer(&keys);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot read AWS file %s: %s",
		            path,
		            error_local->message);
		return NULL;
	}
	lines = g_strsplit(contents, "\n", -1);
	OPENSSL_cleanse(contents, len);
	g_free(contents);
	for (guint i = 0; lines[i] != NULL; i++) {
		gchar *line = lines[i];
		gchar *eq;

		if (line[0] == ' ' || line[0] == '\t') {
			OPENSSL_cleanse(line, strlen(line));
			continue;
		}
		g_strstrip(line);
		if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[') {
			gchar *end = strrchr(line, ']');
			if (end != NULL)
				*end = '\0';
			g_strstrip(line + 1);
			in_section = g_strcmp0(line + 1, section) == 0;
			if (in_section)
				*found = TRUE;
			continue;
		}
		eq = strchr(line, '=');
		if (in_section && eq != NULL) {
			*eq = '\0';
			g_hash_table_insert(
			    keys, g_strstrip(g_strdup(line)), g_strstrip(g_strdup(eq + 1)));
		}
		OPENSSL_cleanse(line, strlen(line));
	}
	return g_steal_pointer(&keys);
}

/* $HOME as the AWS CLI reads it (os.path.expanduser); GLib's home directory
 * is read once per process, so it comes second */
static const gchar *
fst_aws_home(void)
{
	const gchar *home = g_getenv("HOME");
	return home != NULL && home[0] != '\0' ? home : g_get_home_dir();
}

static gchar *
fst_aws_file_path(const gchar *env, const gchar *name)
{
	const gchar *value = g_getenv(env);
	if (value != NULL && value[0] != '\0') {
		if (g_str_has_prefix(value, "~/"))
			return g_build_filename(fst_aws_home(), value + 2, NULL);
		return g_strdup(value);
	}
	return g_build_filename(fst_aws_home(), ".aws", name, NULL);
}

static const gchar *
fst_aws_nonempty(const gchar *value)
{
	return value != NULL && value[0] != '\0' ? value : NULL;
}

/* the identity of @path now: device, inode, size and change time, or "-"
 * when it does not exist; a file rewritten in place or replaced by a rename
 * gets another */
static void
fst_aws_file_stamp(GString *stamp, const gchar *path)
{
	GStatBuf st;

	if (g_stat(path, &st) != 0) {
		g_string_append(stamp, "-;");
		return;
	}
	g_string_append_printf(stamp,
	                       "%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT ":%" G_GINT64_FORMAT
	                       ":%" G_GINT64_FORMAT ".%09ld;",
	                       (guint64)st.st_dev,
	                       (guint64)st.st_ino,
	                       (gint64)st.st_size,
	                       (gint64)st.st_mtim.tv_sec,
	                       (long)st.st_mtim.tv_nsec);
}

static gchar *
fst_aws_files_stamp(const gchar *creds_path, const gchar *config_path)
{
	GString *stamp = g_string_new(NULL);
	fst_aws_file_stamp(stamp, creds_path);
	fst_aws_file_stamp(stamp, config_path);
	return g_string_free(stamp, FALSE);
}

/* how long a credential_process may run, in milliseconds; the test hook
 * FST_TEST_AWS_PROCESS_LIMIT_MS shortens it */
static gint64
fst_aws_process_limit_ms(void)
{
	const gchar *ms = g_getenv("FST_TEST_AWS_PROCESS_LIMIT_MS");
	return ms != NULL ? (gint64)g_ascii_strtoull(ms, NULL, 10) : FST_AWS_PROCESS_LIMIT_MS;
}

/* whether the station is its terminal's foreground process group: a
 * helper in another group would be stopped (SIGTTIN) as it reads the
 * terminal, and Ctrl-C would not reach it */
static gboolean
fst_aws_credentials_in_foreground(void)
{
	pid_t foreground = tcgetpgrp(STDIN_FILENO);
	return foreground != -1 && foreground == getpgrp();
}

/* in the helper, before exec: a process group of its own when @data says
 * so, so that a helper past its time is killed with whatever it started */
static void
fst_aws_credentials_child_setup(gpointer data)
{
	if (GPOINTER_TO_INT(data))
		(void)setpgid(0, 0);
}

/* runs @argv with its standard output read into @out (room for
 * FST_AWS_PROCESS_MAX_OUTPUT bytes and a NUL), in place: no copy of what
 * it prints is left in memory that is freed unwiped, as a growing buffer
 * would leave; its standard input and error are the station's. A helper
 * still running after fst_aws_process_limit_ms() is killed, with its
 * process group when it has one of its own (not in the terminal's
 * foreground) */
static gboolean
fst_aws_credentials_spawn(gchar **argv, gchar *out, gsize *out_len, GError **error)
{
	GPid pid = 0;
	gint fd = -1;
	gint status = 0;
	gboolean too_long = FALSE;
	gboolean late = FALSE;
	gint64 limit_ms = fst_aws_process_limit_ms();
	gint64 deadline = g_get_monotonic_time() + limit_ms * 1000;
	gboolean own_group = !fst_aws_credentials_in_foreground();

	*out_len = 0;
	if (!g_spawn_async_with_pipes(NULL,
	                              argv,
	                              NULL,
	                              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
	                              fst_aws_credentials_child_setup,
	                              GINT_TO_POINTER(own_group),
	                              &pid,
	                              NULL,
	                              &fd,
	                              NULL,
	                              error))
		return FALSE;
	for (;;) {
		gchar sink[256];
		gboolean room = *out_len < FST_AWS_PROCESS_MAX_OUTPUT;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		gint64 left_ms = (deadline - g_get_monotonic_time() + 999) / 1000;
		gint ready;
		gssize n;

		if (left_ms <= 0) {
			late = TRUE;
			break;
		}
		ready = poll(&pfd, 1, (gint)MIN(left_ms, G_MAXINT));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			break;
		if (ready == 0)
			continue;
		n = room ? read(fd, out + *out_len, FST_AWS_PROCESS_MAX_OUTPUT - *out_len)
		         : read(fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (room)
			*out_len += (gsize)n;
		else
			too_long = TRUE;
	}
	out[*out_len] = '\0';
	close(fd);
	/* the helper closed its output: it exits now, or it is late too */
	while (!late) {
		pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid || (done < 0 && errno != EINTR))
			break;
		if (g_get_monotonic_time() >= deadline)
			late = TRUE;
		else if (done == 0)
			g_usleep(MIN(10 * 1000, (deadline - g_get_monotonic_time())));
	}
	if (late) {
		if (own_group)
			(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	g_spawn_close_pid(pid);
	if (late) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "it had not finished (or left its output open) after %" G_GINT64_FORMAT
		            " %s, and was killed",
		            limit_ms % 1000 == 0 ? limit_ms / 1000 : limit_ms,
		            limit_ms % 1000 == 0 ? "s" : "ms");
		return FALSE;
	}
	if (!g_spawn_check_wait_status(status, error))
		return FALSE;
	if (too_long || strlen(out) != *out_len) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "it printed %s",
		            too_long ? "more than 64 KiB" : "a NUL byte");
		return FALSE;
	}
	return TRUE;
}

/* the keys @command (the credential_process of @profile) prints, into
 * @self; fails with %FST_ERROR_CONFIG saying what went wrong */
static gboolean
fst_aws_credentials_run_process(FstAwsCredentials *self,
                                const gchar *profile,
                                const gchar *command,
                                GError **error)
{
	g_auto(GStrv) argv = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(FstSecret) secret = NULL;
	g_autoptr(FstSecret) token = NULL;
	g_autoptr(GDateTime) expiration = NULL;
	gchar *out = NULL;
	gsize out_len = 0;
	JsonObject *obj = NULL;
	const gchar *key_id = NULL;
	const gchar *expires = NULL;
	gboolean ok = FALSE;

	if (!g_shell_parse_argv(command, NULL, &argv, &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "the credential_process of AWS profile \"%s\" cannot be read as a "
		            "command (%s): %s",
		            profile,
		            command,
		            error_local->message);
		return FALSE;
	}
	out = g_malloc0(FST_AWS_PROCESS_MAX_OUTPUT + 1);
	if (!fst_aws_credentials_spawn(argv, out, &out_len, &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "the credential_process of AWS profile \"%s\" (%s) gave no keys: %s; "
		            "run it by hand to see why",
		            profile,
		            command,
		            error_local->message);
		goto out;
	}
	/* the secrets out of the text first: the parser gets blanks */
	if (!fst_json_take_secret(
	        (guint8 *)out, out_len, "SecretAccessKey", &secret, &error_local) ||
	    (strstr(out, "\"SessionToken\"") != NULL &&
	     !fst_json_take_secret((guint8 *)out, out_len, "SessionToken", &token, &error_local))) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "the credential_process of AWS profile \"%s\" (%s) printed no keys "
		            "the AWS CLI would take: %s",
		            profile,
		            command,
		            error_local->message);
		goto out;
	}
	parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, out, (gssize)out_len, &error_local) ||
	    (obj = fst_json_root_object(parser)) == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "the credential_process of AWS profile \"%s\" (%s) printed no JSON "
		            "object%s%s",
		            profile,
		            command,
		            error_local != NULL ? ": " : "",
		            error_local != NULL ? error_local->message : "");
		goto out;
	}
	key_id = fst_json_get_string(obj, "AccessKeyId");
	expires = fst_json_get_string(obj, "Expiration");
	if (fst_json_get_int(obj, "Version", 0) != 1 || fst_aws_nonempty(key_id) == NULL ||
	    fst_aws_secret_empty(secret) ||
	    (json_object_has_member(obj, "Expiration") &&
	     (expires == NULL ||
	      (expiration = g_date_time_new_from_iso8601(expires, NULL)) == NULL))) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "the credential_process of AWS profile \"%s\" (%s) printed %s: it "
		            "must print {\"Version\": 1, \"AccessKeyId\", \"SecretAccessKey\", "
		            "and optionally \"SessionToken\" and \"Expiration\" (ISO 8601)}",
		            profile,
		            command,
		            fst_json_get_int(obj, "Version", 0) != 1 ? "another Version than 1"
		            : fst_aws_nonempty(key_id) == NULL       ? "no AccessKeyId"
		            : fst_aws_secret_empty(secret)
		                ? "an empty SecretAccessKey"
		                : "an Expiration that is no ISO 8601 time");
		goto out;
	}
	g_free(self->access_key_id);
	self->access_key_id = g_strdup(key_id);
	g_clear_pointer(&self->secret_access_key, fst_secret_free);
	self->secret_access_key = g_steal_pointer(&secret);
	g_clear_pointer(&self->session_token, fst_secret_free);
	if (!fst_aws_secret_empty(token))
		self->session_token = g_steal_pointer(&token);
	self->expires_at = expiration != NULL ? g_date_time_to_unix(expiration) : 0;
	ok = TRUE;
out:
	if (out != NULL) {
		OPENSSL_cleanse(out, FST_AWS_PROCESS_MAX_OUTPUT + 1);
		g_free(out);
	}
	return ok;
}

/**
 * fst_aws_credentials_load:
 * @profile: (nullable): the profile named on the command line (`--aws-profile`)
 * @region: (nullable): the region named on the command line (`--region`)
 * @endpoint_url: (nullable): the endpoint named on the command line
 * @error: (nullable): return location for a #GError
 *
 * Finds credentials, region and endpoint as the AWS CLI does (see the top of
 * this file). A profile named on the command line that is in neither file is
 * an error, as it is for the AWS CLI.
 *
 * Returns: (transfer full): the credentials, or %NULL with
 *   %FST_ERROR_CONFIG if there are no keys or the profile does not exist
 */
FstAwsCredentials *
fst_aws_credentials_load(const gchar *profile,
                         const gchar *region,
                         const gchar *endpoint_url,
                         GError **error)
{
	g_autoptr(FstAwsCredentials) self = g_new0(FstAwsCredentials, 1);
	g_autoptr(GHashTable) creds = NULL;
	g_autoptr(GHashTable) config = NULL;
	g_autofree gchar *creds_path =
	    fst_aws_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	g_autofree gchar *config_path = fst_aws_file_path("AWS_CONFIG_FILE", "config");
	g_autofree gchar *config_section = NULL;
	/* taken before the files are read: a change after it is seen later */
	g_autofree gchar *stamp = fst_aws_files_stamp(creds_path, config_path);
	gboolean explicit_profile = fst_aws_nonempty(profile) != NULL;
	gboolean in_creds = FALSE;
	gboolean in_config = FALSE;
	const gchar *value;

	self->load_profile = g_strdup(profile);
	self->load_region = g_strdup(region);
	self->load_endpoint = g_strdup(endpoint_url);
	if (explicit_profile)
		self->profile = g_strdup(profile);
	else if (fst_aws_nonempty(g_getenv("AWS_PROFILE")) != NULL)
		self->profile = g_strdup(g_getenv("AWS_PROFILE"));
	else
		self->profile = g_strdup("default");
	config_section = g_strcmp0(self->profile, "default") == 0
	                     ? g_strdup("default")
	                     : g_strdup_printf("profile %s", self->profile);

	creds = fst_aws_ini_section(creds_path, self->profile, &in_creds, error);
	if (creds == NULL)
		return NULL;
	config = fst_aws_ini_section(config_path, config_section, &in_config, error);
	if (config == NULL)
		return NULL;
	if (explicit_profile && !in_creds && !in_config) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "AWS profile \"%s\" is in neither %s nor %s: "
		            "run `aws configure --profile %s` or name another profile",
		            self->profile,
		            creds_path,
		            config_path,
		            self->profile);
		return NULL;
	}

	/* keys */
	if (!explicit_profile && fst_aws_nonempty(g_getenv("AWS_ACCESS_KEY_ID")) != NULL &&
	    fst_aws_nonempty(g_getenv("AWS_SECRET_ACCESS_KEY")) != NULL) {
		self->access_key_id = g_strdup(g_getenv("AWS_ACCESS_KEY_ID"));
		self->secret_access_key =
		    fst_aws_secret_from_str(g_getenv("AWS_SECRET_ACCESS_KEY"));
		self->session_token = fst_aws_secret_from_str(g_getenv("AWS_SESSION_TOKEN"));
		self->source = g_strdup("environment");
	} else {
		GHashTable *from = NULL;
		if (fst_aws_nonempty(g_hash_table_lookup(creds, "aws_access_key_id")) != NULL &&
		    fst_aws_nonempty(g_hash_table_lookup(creds, "aws_secret_access_key")) != NULL) {
			from = creds;
			self->source = g_strdup(creds_path);
		} else if ((value = fst_aws_nonempty(
		                g_hash_table_lookup(config, "credential_process"))) != NULL) {
			if (!fst_aws_credentials_run_process(self, self->profile, value, error))
				return NULL;
			self->process = g_strdup(value);
			self->source = g_strdup_printf("the credential_process of %s", config_path);
			goto settings;
		} else if (fst_aws_nonempty(g_hash_table_lookup(config, "aws_access_key_id")) !=
		               NULL &&
		           fst_aws_nonempty(g_hash_table_lookup(config, "aws_secret_access_key")) !=
		               NULL) {
			from = config;
			self->source = g_strdup(config_path);
		}
		if (from == NULL) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "no AWS credentials for profile \"%s\": set AWS_ACCESS_KEY_ID "
			            "and AWS_SECRET_ACCESS_KEY, run `aws configure` (%s), or give "
			            "the profile a credential_process in %s",
			            self->profile,
			            creds_path,
			            config_path);
			return NULL;
		}
		self->access_key_id = g_strdup(g_hash_table_lookup(from, "aws_access_key_id"));
		self->secret_access_key =
		    fst_aws_secret_from_str(g_hash_table_lookup(from, "aws_secret_access_key"));
		self->session_token =
		    fst_aws_secret_from_str(g_hash_table_lookup(from, "aws_session_token"));
		self->files_stamp = g_steal_pointer(&stamp);
	}

settings:
	/* region */
	if ((value = fst_aws_nonempty(region)) != NULL ||
	    (value = fst_aws_nonempty(g_getenv("AWS_REGION"))) != NULL ||
	    (value = fst_aws_nonempty(g_getenv("AWS_DEFAULT_REGION"))) != NULL ||
	    (value = fst_aws_nonempty(g_hash_table_lookup(config, "region"))) != NULL)
		self->region = g_strdup(value);

	/* endpoint */
	if ((value = fst_aws_nonempty(endpoint_url)) != NULL ||
	    (value = fst_aws_nonempty(g_getenv("AWS_ENDPOINT_URL_IOT"))) != NULL ||
	    (value = fst_aws_nonempty(g_getenv("AWS_ENDPOINT_URL"))) != NULL ||
	    (value = fst_aws_nonempty(g_hash_table_lookup(config, "endpoint_url"))) != NULL)
		self->endpoint_url = g_strdup(value);
	return g_steal_pointer(&self);
}

/* the keys of @fresh, read again from @source, replace those of @self */
static void
fst_aws_credentials_take_keys(FstAwsCredentials *self,
                              FstAwsCredentials *fresh,
                              const gchar *source)
{
	if (g_strcmp0(fresh->access_key_id, self->access_key_id) != 0)
		g_info("AWS access key %s replaces %s, read again from %s",
		       fresh->access_key_id,
		       self->access_key_id,
		       source);
	g_free(self->access_key_id);
	self->access_key_id = g_steal_pointer(&fresh->access_key_id);
	g_clear_pointer(&self->secret_access_key, fst_secret_free);
	self->secret_access_key = g_steal_pointer(&fresh->secret_access_key);
	g_clear_pointer(&self->session_token, fst_secret_free);
	self->session_token = g_steal_pointer(&fresh->session_token);
}

/* keys from a credential_process fetched again when they expire within
 * @window_s seconds, or at once when @window_s is -1 (AWS refused them as
 * expired); a run that fails keeps the keys held and is told once, and the
 * helper is not run again before FST_AWS_PROCESS_RETRY_US */
static gboolean
fst_aws_credentials_process_due(const FstAwsCredentials *self, gint64 window_s)
{
	return self->expires_at != 0 &&
	       (window_s < 0 ||
	        g_get_real_time() / G_USEC_PER_SEC >= self->expires_at - window_s) &&
	       g_get_monotonic_time() >= self->process_retry_at;
}

static gboolean
fst_aws_credentials_refresh_process(FstAwsCredentials *self, gint64 window_s)
{
	g_autoptr(FstAwsCredentials) fresh = g_new0(FstAwsCredentials, 1);
	g_autoptr(GError) error = NULL;
	gint64 now_us = g_get_monotonic_time();

	if (!fst_aws_credentials_process_due(self, window_s))
		return FALSE;
	if (!fst_aws_credentials_run_process(fresh, self->profile, self->process, &error)) {
		if (self->process_retry_at == 0)
			g_message("%s: the keys held are used", error->message);
		self->process_retry_at = now_us + FST_AWS_PROCESS_RETRY_US;
		return FALSE;
	}
	self->process_retry_at = 0;
	fst_aws_credentials_take_keys(self, fresh, self->source);
	self->expires_at = fresh->expires_at;
	return TRUE;
}

/**
 * fst_aws_credentials_refresh_due:
 * @self: credentials fst_aws_credentials_load() read
 *
 * Whether fst_aws_credentials_refresh_ahead() would read the keys again
 * now: the files changed, or keys from a credential_process are in their
 * last 15 minutes (and no failed run is waiting for its retry). It changes
 * nothing, so that a caller can run the refresh on a copy, outside its
 * lock.
 *
 * Returns: %TRUE when a refresh is due
 */
gboolean
fst_aws_credentials_refresh_due(const FstAwsCredentials *self)
{
	g_autofree gchar *creds_path = NULL;
	g_autofree gchar *config_path = NULL;
	g_autofree gchar *stamp = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	if (self->process != NULL)
		return fst_aws_credentials_process_due(self, FST_AWS_PROCESS_AHEAD_S);
	if (self->files_stamp == NULL)
		return FALSE;
	creds_path = fst_aws_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	config_path = fst_aws_file_path("AWS_CONFIG_FILE", "config");
	stamp = fst_aws_files_stamp(creds_path, config_path);
	return g_strcmp0(stamp, self->files_stamp) != 0;
}

static gboolean
fst_aws_credentials_refresh_within(FstAwsCredentials *self, gint64 window_s)
{
	g_autofree gchar *creds_path = NULL;
	g_autofree gchar *config_path = NULL;
	g_autofree gchar *stamp = NULL;
	g_autoptr(FstAwsCredentials) fresh = NULL;
	g_autoptr(GError) error = NULL;

	if (self->process != NULL)
		return fst_aws_credentials_refresh_process(self, window_s);
	if (self->files_stamp == NULL)
		return FALSE;
	creds_path = fst_aws_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	config_path = fst_aws_file_path("AWS_CONFIG_FILE", "config");
	stamp = fst_aws_files_stamp(creds_path, config_path);
	if (g_strcmp0(stamp, self->files_stamp) == 0)
		return FALSE;
	fresh = fst_aws_credentials_load(
	    self->load_profile, self->load_region, self->load_endpoint, &error);
	if (fresh == NULL || fresh->files_stamp == NULL) {
		g_message("the AWS files changed but hold no keys for profile \"%s\" now (%s): the "
		          "keys read before are used",
		          self->profile,
		          error != NULL ? error->message : "the keys are in the environment now");
		/* this change is told once */
		g_free(self->files_stamp);
		self->files_stamp = g_steal_pointer(&stamp);
		return FALSE;
	}
	fst_aws_credentials_take_keys(self, fresh, fresh->source);
	g_free(self->source);
	self->source = g_steal_pointer(&fresh->source);
	g_free(self->files_stamp);
	self->files_stamp = g_steal_pointer(&fresh->files_stamp);
	return TRUE;
}

/**
 * fst_aws_credentials_refresh:
 * @self: credentials fst_aws_credentials_load() read
 *
 * Reads the keys again, as they were found the first time, when they came
 * from the files and the files have changed since (see the top of this
 * file), or from a credential_process and they expire within 10 minutes,
 * and puts them in @self; the region and the endpoint stay. Keys from
 * the environment or the caller never change. A change that cannot be read
 * (a file being written without a rename, a helper that fails) keeps the
 * keys read before and is told once, as a message; the next change is read
 * again (a failed helper is run again after 30 s).
 *
 * Returns: %TRUE when @self holds keys read again
 */
gboolean
fst_aws_credentials_refresh(FstAwsCredentials *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return fst_aws_credentials_refresh_within(self, FST_AWS_PROCESS_REFRESH_S);
}

/**
 * fst_aws_credentials_refresh_ahead:
 * @self: credentials fst_aws_credentials_load() read
 *
 * fst_aws_credentials_refresh(), except that keys from a credential_process
 * are fetched again from 15 minutes before they expire: the refresh of the
 * holder that the copies are made from (the station's, for its lanes'
 * clients), so that they start with fresh keys and seldom reach their own
 * 10 minutes.
 *
 * Returns: %TRUE when @self holds keys read again
 */
gboolean
fst_aws_credentials_refresh_ahead(FstAwsCredentials *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return fst_aws_credentials_refresh_within(self, FST_AWS_PROCESS_AHEAD_S);
}

/**
 * fst_aws_credentials_refresh_refused:
 * @self: credentials fst_aws_credentials_load() read
 *
 * AWS refused the keys of @self as expired: fst_aws_credentials_refresh(),
 * except that keys from a credential_process with an Expiration are fetched
 * again now, whatever this machine's clock says of it.
 *
 * Returns: %TRUE when @self holds keys read again
 */
gboolean
fst_aws_credentials_refresh_refused(FstAwsCredentials *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	if (self->process != NULL)
		return fst_aws_credentials_refresh_process(self, -1);
	return fst_aws_credentials_refresh(self);
}

/**
 * fst_aws_credentials_copy:
 * @self: credentials
 *
 * Returns: (transfer full): a copy, the keys in secrets of its own
 */
FstAwsCredentials *
fst_aws_credentials_copy(const FstAwsCredentials *self)
{
	FstAwsCredentials *copy = g_new0(FstAwsCredentials, 1);
	gsize len = 0;
	const guint8 *data;

	copy->access_key_id = g_strdup(self->access_key_id);
	if (self->secret_access_key != NULL) {
		data = fst_secret_get_data(self->secret_access_key, &len);
		copy->secret_access_key = fst_secret_new(data, len);
	}
	if (self->session_token != NULL) {
		data = fst_secret_get_data(self->session_token, &len);
		copy->session_token = fst_secret_new(data, len);
	}
	copy->region = g_strdup(self->region);
	copy->endpoint_url = g_strdup(self->endpoint_url);
	copy->profile = g_strdup(self->profile);
	copy->source = g_strdup(self->source);
	copy->files_stamp = g_strdup(self->files_stamp);
	copy->process = g_strdup(self->process);
	copy->expires_at = self->expires_at;
	copy->process_retry_at = self->process_retry_at;
	copy->load_profile = g_strdup(self->load_profile);
	copy->load_region = g_strdup(self->load_region);
	copy->load_endpoint = g_strdup(self->load_endpoint);
	return copy;
}
