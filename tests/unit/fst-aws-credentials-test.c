/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstAwsCredentialsTest"

#include <glib/gstdio.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "fst-aws-credentials.h"
#include "fst-aws-iot.h"
#include "fst-error.h"
#include "fst-profile.h"
#include "fst-station.h"

/*
 * Credentials, region and endpoint found as the AWS CLI finds them, from a
 * temporary HOME: the environment first, the credentials file, the config
 * file's `[profile NAME]`, a profile named on the command line over the
 * environment's keys.
 */

typedef struct {
	gchar *home;
	gchar *creds;
	gchar *config;
} TestFixture;

static const gchar *test_vars[] = {"AWS_ACCESS_KEY_ID",
                                   "AWS_SECRET_ACCESS_KEY",
                                   "AWS_SESSION_TOKEN",
                                   "AWS_PROFILE",
                                   "AWS_REGION",
                                   "AWS_DEFAULT_REGION",
                                   "AWS_ENDPOINT_URL",
                                   "AWS_ENDPOINT_URL_IOT",
                                   "AWS_SHARED_CREDENTIALS_FILE",
                                   "AWS_CONFIG_FILE",
                                   NULL};

static void
test_setup(TestFixture *fx, gconstpointer data)
{
	g_autofree gchar *aws = NULL;
	for (guint i = 0; test_vars[i] != NULL; i++)
		g_unsetenv(test_vars[i]);
	fx->home = g_dir_make_tmp("fst-aws-cred-XXXXXX", NULL);
	aws = g_build_filename(fx->home, ".aws", NULL);
	g_mkdir(aws, 0700);
	fx->creds = g_build_filename(aws, "credentials", NULL);
	fx->config = g_build_filename(aws, "config", NULL);
	g_setenv("HOME", fx->home, TRUE);
	g_assert_true(g_file_set_contents(fx->creds,
	                                  "# comment\n"
	                                  "[default]\n"
	                                  "aws_access_key_id = AKIDDEFAULT\n"
	                                  "aws_secret_access_key = secret/default+key\n"
	                                  "\n"
	                                  "[factory]\n"
	                                  "aws_access_key_id=AKIDFACTORY\n"
	                                  "aws_secret_access_key=secret-factory\n"
	                                  "aws_session_token = token-factory\n",
	                                  -1,
	                                  NULL));
	g_assert_true(g_file_set_contents(fx->config,
	                                  "[default]\n"
	                                  "region = us-east-1\n"
	                                  "s3 =\n"
	                                  "  region = nowhere\n"
	                                  "[profile factory]\n"
	                                  "region = eu-west-1\n"
	                                  "endpoint_url = http://127.0.0.1:5055\n"
	                                  "[profile onlyconfig]\n"
	                                  "aws_access_key_id = AKIDCONFIG\n"
	                                  "aws_secret_access_key = secret-config\n"
	                                  "region = ap-south-1\n",
	                                  -1,
	                                  NULL));
}

static void
test_rm(const gchar *path)
{
	g_unlink(path);
}

static void
test_teardown(TestFixture *fx, gconstpointer data)
{
	g_autofree gchar *aws = g_path_get_dirname(fx->creds);
	test_rm(fx->creds);
	test_rm(fx->config);
	g_rmdir(aws);
	g_rmdir(fx->home);
	g_free(fx->home);
	g_free(fx->creds);
	g_free(fx->config);
	for (guint i = 0; test_vars[i] != NULL; i++)
		g_unsetenv(test_vars[i]);
}

static void
test_default_profile(TestFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCredentials) c = fst_aws_credentials_load(NULL, NULL, NULL, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->access_key_id, ==, "AKIDDEFAULT");
	g_assert_cmpstr(fst_secret_get_str(c->secret_access_key), ==, "secret/default+key");
	g_assert_null(c->session_token);
	g_assert_cmpstr(c->region, ==, "us-east-1");
	g_assert_null(c->endpoint_url);
	g_assert_cmpstr(c->source, ==, fx->creds);
}

static void
test_environment_first(TestFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCredentials) c = NULL;

	g_setenv("AWS_ACCESS_KEY_ID", "AKIDENV", TRUE);
	g_setenv("AWS_SECRET_ACCESS_KEY", "secret-env", TRUE);
	g_setenv("AWS_SESSION_TOKEN", "token-env", TRUE);
	g_setenv("AWS_DEFAULT_REGION", "us-west-1", TRUE);
	g_setenv("AWS_REGION", "us-west-2", TRUE);
	c = fst_aws_credentials_load(NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->access_key_id, ==, "AKIDENV");
	g_assert_cmpstr(fst_secret_get_str(c->session_token), ==, "token-env");
	g_assert_cmpstr(c->region, ==, "us-west-2");
	g_assert_cmpstr(c->source, ==, "environment");
}

/* AWS_PROFILE picks the files' profile, but keys in the environment win */
static void
test_profile_env(TestFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCredentials) c = NULL;
	g_autoptr(FstAwsCredentials) c2 = NULL;

	g_setenv("AWS_PROFILE", "factory", TRUE);
	c = fst_aws_credentials_load(NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->profile, ==, "factory");
	g_assert_cmpstr(c->access_key_id, ==, "AKIDFACTORY");
	g_assert_cmpstr(fst_secret_get_str(c->session_token), ==, "token-factory");
	g_assert_cmpstr(c->region, ==, "eu-west-1");
	g_assert_cmpstr(c->endpoint_url, ==, "http://127.0.0.1:5055");

	g_setenv("AWS_ACCESS_KEY_ID", "AKIDENV", TRUE);
	g_setenv("AWS_SECRET_ACCESS_KEY", "secret-env", TRUE);
	c2 = fst_aws_credentials_load(NULL, "sa-east-1", "http://127.0.0.1:1", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c2->access_key_id, ==, "AKIDENV");
	g_assert_cmpstr(c2->region, ==, "sa-east-1");
	g_assert_cmpstr(c2->endpoint_url, ==, "http://127.0.0.1:1");
}

/* --aws-profile overrides keys in the environment, as --profile does */
static void
test_profile_flag(TestFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCredentials) c = NULL;

	g_setenv("AWS_ACCESS_KEY_ID", "AKIDENV", TRUE);
	g_setenv("AWS_SECRET_ACCESS_KEY", "secret-env", TRUE);
	c = fst_aws_credentials_load("onlyconfig", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->access_key_id, ==, "AKIDCONFIG");
	g_assert_cmpstr(fst_secret_get_str(c->secret_access_key), ==, "secret-config");
	g_assert_cmpstr(c->region, ==, "ap-south-1");
	g_assert_cmpstr(c->source, ==, fx->config);
}

static void
test_files_from_env(TestFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCredentials) c = NULL;
	g_autofree gchar *other = g_build_filename(fx->home, "other-creds", NULL);

	g_assert_true(g_file_set_contents(other,
	                                  "[default]\naws_access_key_id = AKIDOTHER\n"
	                                  "aws_secret_access_key = s\n",
	                                  -1,
	                                  NULL));
	g_setenv("AWS_SHARED_CREDENTIALS_FILE", other, TRUE);
	g_setenv("AWS_CONFIG_FILE", "/nonexistent/config", TRUE);
	c = fst_aws_credentials_load(NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->access_key_id, ==, "AKIDOTHER");
	g_assert_null(c->region);
	g_unlink(other);
}

static void
test_missing(TestFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCredentials) c = fst_aws_credentials_load("nosuch", NULL, NULL, &error);

	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_null(c);
	g_assert_nonnull(strstr(error->message, "nosuch"));
	g_clear_error(&error);

	g_setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds", TRUE);
	c = fst_aws_credentials_load(NULL, NULL, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "AWS_ACCESS_KEY_ID"));
}

/* a peer that answers DescribeEndpoint and records, for each request, the
 * access key that signed it; it refuses @expired_key as AWS refuses an
 * expired session, after it has run @on_refusal (a helper writing fresh
 * keys while the station's request is on its way) */
typedef struct {
	GSocketListener *listener;
	GThread *thread;
	guint16 port;
	GMutex lock;
	GPtrArray *keys; /* (element-type utf8): the key of each request */
	const gchar *expired_key;
	void (*on_refusal)(gpointer data);
	gpointer on_refusal_data;
	gboolean stop;
} TestPeer;

static gchar *
test_peer_key(const gchar *request)
{
	const gchar *cred = strstr(request, "Credential=");
	const gchar *end = cred != NULL ? strchr(cred, '/') : NULL;
	return end != NULL ? g_strndup(cred + 11, end - cred - 11) : g_strdup("(none)");
}

static gpointer
test_peer_thread(gpointer data)
{
	TestPeer *peer = data;

	for (;;) {
		g_autoptr(GSocketConnection) conn =
		    g_socket_listener_accept(peer->listener, NULL, NULL, NULL);
		g_autoptr(GString) request = g_string_new(NULL);
		g_autofree gchar *key = NULL;
		g_autofree gchar *reply = NULL;
		GInputStream *in;
		GOutputStream *out;
		gchar buf[4096];
		gboolean refuse;

		if (conn == NULL || peer->stop)
			return NULL;
		in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
		out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
		while (strstr(request->str, "\r\n\r\n") == NULL) {
			gssize n = g_input_stream_read(in, buf, sizeof(buf), NULL, NULL);
			if (n <= 0)
				break;
			g_string_append_len(request, buf, n);
		}
		key = test_peer_key(request->str);
		g_mutex_lock(&peer->lock);
		g_ptr_array_add(peer->keys, g_strdup(key));
		refuse = g_strcmp0(key, peer->expired_key) == 0;
		g_mutex_unlock(&peer->lock);
		if (refuse) {
			const gchar *body = "{\"message\":\"The security token included in the "
			                    "request is expired\"}";
			if (peer->on_refusal != NULL)
				peer->on_refusal(peer->on_refusal_data);
			reply = g_strdup_printf("HTTP/1.1 403 Forbidden\r\nContent-Type: "
			                        "application/json\r\nx-amzn-ErrorType: "
			                        "ExpiredTokenException:\r\nContent-Length: %zu\r\n"
			                        "Connection: close\r\n\r\n%s",
			                        strlen(body),
			                        body);
		} else {
			const gchar *body =
			    "{\"endpointAddress\":\"a1b2c3-ats.iot.eu-west-1.amazonaws.com\"}";
			reply =
			    g_strdup_printf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			                    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			                    strlen(body),
			                    body);
		}
		g_output_stream_write_all(out, reply, strlen(reply), NULL, NULL, NULL);
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
	}
}

static void
test_peer_start(TestPeer *peer)
{
	g_autoptr(GError) error = NULL;

	g_mutex_init(&peer->lock);
	peer->keys = g_ptr_array_new_with_free_func(g_free);
	peer->listener = g_socket_listener_new();
	peer->port = g_socket_listener_add_any_inet_port(peer->listener, NULL, &error);
	g_assert_no_error(error);
	peer->thread = g_thread_new("test-peer", test_peer_thread, peer);
}

static void
test_peer_stop(TestPeer *peer)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;

	peer->stop = TRUE;
	/* wakes the accept */
	conn = g_socket_client_connect_to_host(client, "127.0.0.1", peer->port, NULL, NULL);
	g_thread_join(peer->thread);
	g_socket_listener_close(peer->listener);
	g_object_unref(peer->listener);
	g_ptr_array_unref(peer->keys);
	g_mutex_clear(&peer->lock);
}

/* the keys of the requests so far, comma-separated, and forgotten */
static gchar *
test_peer_take_keys(TestPeer *peer)
{
	gchar *joined;
	g_mutex_lock(&peer->lock);
	g_ptr_array_add(peer->keys, NULL);
	joined = g_strjoinv(",", (gchar **)peer->keys->pdata);
	g_ptr_array_set_size(peer->keys, 0);
	g_mutex_unlock(&peer->lock);
	return joined;
}

/* what a helper such as `aws_signing_helper update` does: new keys written
 * to a temporary file renamed over the credentials file */
static void
test_write_keys(const gchar *path, const gchar *key, const gchar *secret)
{
	g_autofree gchar *text = g_strdup_printf("[default]\naws_access_key_id = %s\n"
	                                         "aws_secret_access_key = %s\n"
	                                         "aws_session_token = token-of-%s\n",
	                                         key,
	                                         secret,
	                                         key);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

typedef struct {
	const gchar *path;
	const gchar *key;
} TestRotation;

static void
test_rotate_now(gpointer data)
{
	TestRotation *rotation = data;
	test_write_keys(rotation->path, rotation->key, "secret-rotated");
}

static gchar *
test_describe(FstAwsIot *iot)
{
	g_autoptr(GError) error = NULL;
	gchar *endpoint = fst_aws_iot_describe_endpoint(iot, "iot:Data-ATS", NULL, &error);
	g_assert_no_error(error);
	return endpoint;
}

/* keys kept fresh in the credentials file by a helper reach a client that
 * lives for days: read again when the file changes, and when AWS says the
 * keys it got have expired; an unreadable change keeps the keys read before;
 * keys from the environment never change */
static void
test_keys_read_again(TestFixture *fx, gconstpointer data)
{
	TestPeer peer = {0};
	TestRotation rotation = {fx->creds, "AKIDTHIRD"};
	g_autofree gchar *url = NULL;
	g_autoptr(FstAwsCredentials) c = NULL;
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *keys = NULL;
	g_autofree gchar *endpoint = NULL;

	test_peer_start(&peer);
	url = g_strdup_printf("http://127.0.0.1:%u", peer.port);
	g_setenv("AWS_ENDPOINT_URL", url, TRUE);
	g_setenv("AWS_REGION", "eu-west-1", TRUE);
	test_write_keys(fx->creds, "AKIDFIRST", "secret-first");
	c = fst_aws_credentials_load(NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	iot = fst_aws_iot_new(c, &error);
	g_assert_no_error(error);
	fst_aws_iot_set_retry(iot, 3, 1, 5);

	endpoint = test_describe(iot);
	g_assert_cmpstr(endpoint, ==, "a1b2c3-ats.iot.eu-west-1.amazonaws.com");
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDFIRST");

	/* the helper wrote new keys: the next request is signed with them */
	test_write_keys(fx->creds, "AKIDSECOND", "secret-second");
	g_free(test_describe(iot));
	g_free(keys);
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDSECOND");

	/* AWS finds them expired while the helper is writing the next ones:
	 * the request is made again with those */
	peer.expired_key = "AKIDSECOND";
	peer.on_refusal = test_rotate_now;
	peer.on_refusal_data = &rotation;
	g_free(test_describe(iot));
	g_free(keys);
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDSECOND,AKIDTHIRD");

	/* a file caught half written holds no keys: those read before stay */
	g_assert_true(g_file_set_contents(fx->creds, "[default]\n", -1, NULL));
	g_free(test_describe(iot));
	g_free(keys);
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDTHIRD");

	/* expired keys and nothing new in the file: the refusal stands */
	peer.expired_key = "AKIDTHIRD";
	peer.on_refusal = NULL;
	g_assert_null(fst_aws_iot_describe_endpoint(iot, "iot:Data-ATS", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(error->message, "ExpiredTokenException"));
	g_clear_error(&error);
	g_free(keys);
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDTHIRD");

	/* the credentials a station keeps take the new keys in place, once */
	g_clear_pointer(&c, fst_aws_credentials_free);
	test_write_keys(fx->creds, "AKIDFOURTH", "secret-fourth");
	c = fst_aws_credentials_load(NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_false(fst_aws_credentials_refresh(c));
	test_write_keys(fx->creds, "AKIDFIFTH", "secret-fifth");
	g_assert_true(fst_aws_credentials_refresh(c));
	g_assert_cmpstr(c->access_key_id, ==, "AKIDFIFTH");
	g_assert_cmpstr(c->region, ==, "eu-west-1");
	g_assert_false(fst_aws_credentials_refresh(c));

	/* keys from the environment are not read again */
	g_clear_object(&iot);
	g_clear_pointer(&c, fst_aws_credentials_free);
	g_setenv("AWS_ACCESS_KEY_ID", "AKIDENV", TRUE);
	g_setenv("AWS_SECRET_ACCESS_KEY", "secret-env", TRUE);
	c = fst_aws_credentials_load(NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_null(c->files_stamp);
	iot = fst_aws_iot_new(c, &error);
	g_assert_no_error(error);
	test_write_keys(fx->creds, "AKIDFILE", "secret-file");
	g_free(test_describe(iot));
	g_free(keys);
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDENV");

	g_clear_object(&iot);
	test_peer_stop(&peer);
}

/* a credential_process helper in @fx's HOME: run N prints proc/out-N.json
 * (or exits 3 when there is none), counts its runs in proc/count and keeps
 * its first argument in proc/arg */
static gchar *
test_process_dir(TestFixture *fx)
{
	g_autofree gchar *dir = g_build_filename(fx->home, "proc dir", NULL);
	g_autofree gchar *helper = g_build_filename(dir, "helper.sh", NULL);

	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(helper,
	                                  "#!/bin/sh\n"
	                                  "d=$(dirname \"$0\")\n"
	                                  "n=$(( $(cat \"$d/count\" 2>/dev/null || echo 0) + 1 ))\n"
	                                  "echo \"$n\" > \"$d/count\"\n"
	                                  "printf '%s' \"$1\" > \"$d/arg\"\n"
	                                  "[ -f \"$d/out-$n.json\" ] || exit 3\n"
	                                  "cat \"$d/out-$n.json\"\n",
	                                  -1,
	                                  NULL));
	g_assert_cmpint(g_chmod(helper, 0700), ==, 0);
	return g_steal_pointer(&dir);
}

/* what run @n of the helper prints: keys @key_id, "secret-@key_id" and
 * "token-@key_id", expiring @expires_in seconds from now (0: no Expiration) */
static void
test_process_answer(const gchar *dir, guint n, const gchar *key_id, gint64 expires_in)
{
	g_autofree gchar *path = g_strdup_printf("%s/out-%u.json", dir, n);
	g_autofree gchar *expiration = NULL;
	g_autofree gchar *text = NULL;

	if (expires_in != 0) {
		g_autoptr(GDateTime) now = g_date_time_new_now_utc();
		g_autoptr(GDateTime) then = g_date_time_add_seconds(now, (gdouble)expires_in);
		g_autofree gchar *iso = g_date_time_format(then, "%Y-%m-%dT%H:%M:%SZ");
		expiration = g_strdup_printf(", \"Expiration\": \"%s\"", iso);
	}
	text = g_strdup_printf("{\"Version\": 1, \"AccessKeyId\": \"%s\", "
	                       "\"SecretAccessKey\": \"secret-%s\", "
	                       "\"SessionToken\": \"token-%s\"%s}\n",
	                       key_id,
	                       key_id,
	                       key_id,
	                       expiration != NULL ? expiration : "");
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static gint64
test_process_runs(const gchar *dir)
{
	g_autofree gchar *path = g_build_filename(dir, "count", NULL);
	g_autofree gchar *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	return g_ascii_strtoll(text, NULL, 10);
}

static void
test_process_clean(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(dir);
}

/* the config file with `[profile proc]` whose credential_process is the
 * helper of @dir, given an argument with a space */
static void
test_process_config(TestFixture *fx, const gchar *dir, const gchar *extra)
{
	g_autofree gchar *text =
	    g_strdup_printf("[profile proc]\n"
	                    "region = eu-central-1\n"
	                    "credential_process = \"%s/helper.sh\" \"the trust anchor\"\n"
	                    "%s",
	                    dir,
	                    extra != NULL ? extra : "");
	g_assert_true(g_file_set_contents(fx->config, text, -1, NULL));
}

/* keys from the profile's credential_process: the helper's JSON taken as
 * the AWS CLI takes it (its arguments split as a shell would, no shell),
 * fetched again from 10 minutes before they expire, and at once when AWS
 * refuses them; a helper that fails keeps the keys held */
static void
test_credential_process(TestFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCredentials) c = NULL;
	g_autoptr(FstAwsCredentials) copy = NULL;
	g_autofree gchar *dir = test_process_dir(fx);
	g_autofree gchar *arg_path = g_build_filename(dir, "arg", NULL);
	g_autofree gchar *arg = NULL;

	test_process_config(fx,
	                    dir,
	                    "aws_access_key_id = AKIDCONFIGFILE\n"
	                    "aws_secret_access_key = secret-config-file\n");
	test_process_answer(dir, 1, "AKIDPROC1", 3600);
	c = fst_aws_credentials_load("proc", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(test_process_runs(dir), ==, 1);
	g_assert_true(g_file_get_contents(arg_path, &arg, NULL, NULL));
	g_assert_cmpstr(arg, ==, "the trust anchor");
	g_assert_cmpstr(c->access_key_id, ==, "AKIDPROC1");
	g_assert_cmpstr(fst_secret_get_str(c->secret_access_key), ==, "secret-AKIDPROC1");
	g_assert_cmpstr(fst_secret_get_str(c->session_token), ==, "token-AKIDPROC1");
	g_assert_cmpstr(c->region, ==, "eu-central-1");
	g_assert_nonnull(strstr(c->source, "credential_process"));
	g_assert_null(c->files_stamp);
	g_assert_cmpint(c->expires_at, >, g_get_real_time() / G_USEC_PER_SEC + 3500);

	/* an hour left: kept; a copy is the same */
	g_assert_false(fst_aws_credentials_refresh(c));
	copy = fst_aws_credentials_copy(c);
	g_assert_false(fst_aws_credentials_refresh(copy));
	g_assert_cmpint(test_process_runs(dir), ==, 1);

	/* AWS refuses them: fetched again at once */
	test_process_answer(dir, 2, "AKIDPROC2", 5 * 60);
	g_assert_true(fst_aws_credentials_refresh_refused(c));
	g_assert_cmpint(test_process_runs(dir), ==, 2);
	g_assert_cmpstr(c->access_key_id, ==, "AKIDPROC2");
	g_assert_cmpstr(fst_secret_get_str(c->secret_access_key), ==, "secret-AKIDPROC2");

	/* five minutes left: fetched again before each request */
	test_process_answer(dir, 3, "AKIDPROC3", 0);
	g_assert_true(fst_aws_credentials_refresh(c));
	g_assert_cmpstr(c->access_key_id, ==, "AKIDPROC3");
	g_assert_cmpint(c->expires_at, ==, 0);
	/* no Expiration: kept, as the AWS CLI keeps them */
	g_assert_false(fst_aws_credentials_refresh(c));
	g_assert_false(fst_aws_credentials_refresh_refused(c));
	g_assert_cmpint(test_process_runs(dir), ==, 3);

	/* the copy's helper fails (no answer 4): its keys stay, and the helper
	 * is not run again at once */
	g_assert_false(fst_aws_credentials_refresh_refused(copy));
	g_assert_cmpint(test_process_runs(dir), ==, 4);
	g_assert_cmpstr(copy->access_key_id, ==, "AKIDPROC1");
	g_assert_false(fst_aws_credentials_refresh_refused(copy));
	g_assert_cmpint(test_process_runs(dir), ==, 4);

	g_clear_pointer(&c, fst_aws_credentials_free);
	g_clear_pointer(&copy, fst_aws_credentials_free);
	test_process_clean(dir);
}

/* AWS refuses the keys a credential_process gave as expired while this
 * machine's clock gives them an hour: the helper is run again, and the
 * request is made again with its new keys */
static void
test_credential_process_expired_at_aws(TestFixture *fx, gconstpointer data)
{
	TestPeer peer = {0};
	g_autofree gchar *dir = test_process_dir(fx);
	g_autofree gchar *url = NULL;
	g_autofree gchar *endpoint = NULL;
	g_autofree gchar *keys = NULL;
	g_autoptr(FstAwsCredentials) c = NULL;
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(GError) error = NULL;

	test_peer_start(&peer);
	url = g_strdup_printf("http://127.0.0.1:%u", peer.port);
	g_setenv("AWS_ENDPOINT_URL", url, TRUE);
	test_process_config(fx, dir, NULL);
	test_process_answer(dir, 1, "AKIDPROC1", 3600);
	test_process_answer(dir, 2, "AKIDPROC2", 3600);
	c = fst_aws_credentials_load("proc", NULL, NULL, &error);
	g_assert_no_error(error);
	iot = fst_aws_iot_new(c, &error);
	g_assert_no_error(error);
	fst_aws_iot_set_retry(iot, 3, 1, 5);
	g_mutex_lock(&peer.lock);
	peer.expired_key = "AKIDPROC1";
	g_mutex_unlock(&peer.lock);

	endpoint = test_describe(iot);
	g_assert_cmpstr(endpoint, ==, "a1b2c3-ats.iot.eu-west-1.amazonaws.com");
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDPROC1,AKIDPROC2");
	g_assert_cmpint(test_process_runs(dir), ==, 2);

	g_clear_object(&iot);
	test_peer_stop(&peer);
	test_process_clean(dir);
}

/* where credential_process stands: after the credentials file's keys,
 * before the config file's; what it must print */
static void
test_credential_process_refused(TestFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCredentials) c = NULL;
	g_autofree gchar *dir = test_process_dir(fx);
	const struct {
		const gchar *json; /* NULL: the helper exits 3 */
		const gchar *says;
	} bad[] = {
	    {NULL, "exited with code 3"},
	    {"not json", "SecretAccessKey"},
	    {"{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}",
	     "another Version than 1"},
	    {"{\"Version\": 1, \"SecretAccessKey\": \"s\"}", "no AccessKeyId"},
	    {"{\"Version\": 1, \"AccessKeyId\": \"A\"}", "SecretAccessKey"},
	    {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", "
	     "\"Expiration\": \"soon\"}",
	     "no ISO 8601 time"},
	    /* members of another type: read as absent, with no critical */
	    {"{\"Version\": \"1\", \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}",
	     "another Version than 1"},
	    {"{\"Version\": 1.5, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}",
	     "another Version than 1"},
	    {"{\"Version\": 1, \"AccessKeyId\": {\"id\": \"A\"}, \"SecretAccessKey\": \"s\"}",
	     "no AccessKeyId"},
	    {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", "
	     "\"Expiration\": 1700000000}",
	     "no ISO 8601 time"},
	    {"[{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}]",
	     "no JSON object"},
	};

	/* the credentials file's keys come first: the helper is not run */
	{
		g_autofree gchar *text = g_strdup_printf(
		    "[profile factory]\ncredential_process = \"%s/helper.sh\"\n", dir);
		g_assert_true(g_file_set_contents(fx->config, text, -1, NULL));
	}
	c = fst_aws_credentials_load("factory", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->access_key_id, ==, "AKIDFACTORY");
	g_assert_cmpint(test_process_runs(dir), ==, 0);
	g_clear_pointer(&c, fst_aws_credentials_free);

	test_process_config(fx, dir, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *path = g_strdup_printf("%s/out-%u.json", dir, i + 1);
		if (bad[i].json != NULL)
			g_assert_true(g_file_set_contents(path, bad[i].json, -1, NULL));
		c = fst_aws_credentials_load("proc", NULL, NULL, &error);
		g_assert_null(c);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_test_message("%s", error->message);
		g_assert_nonnull(
		    strstr(error->message, "credential_process of AWS profile \"proc\""));
		g_assert_nonnull(strstr(error->message, "helper.sh"));
		g_assert_nonnull(strstr(error->message, bad[i].says));
		g_clear_error(&error);
	}
	g_assert_cmpint(test_process_runs(dir), ==, G_N_ELEMENTS(bad));

	/* more than 64 KiB: refused, the rest read and dropped */
	{
		g_autofree gchar *path =
		    g_strdup_printf("%s/out-%u.json", dir, (guint)G_N_ELEMENTS(bad) + 1);
		g_autofree gchar *big = g_strnfill(70 * 1024, ' ');
		g_assert_true(g_file_set_contents(path, big, -1, NULL));
		c = fst_aws_credentials_load("proc", NULL, NULL, &error);
		g_assert_null(c);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_assert_nonnull(strstr(error->message, "printed more than 64 KiB"));
		g_clear_error(&error);
	}
	/* Version 1.0, as a Python helper may write it: taken, as botocore
	 * takes it */
	{
		g_autofree gchar *path =
		    g_strdup_printf("%s/out-%u.json", dir, (guint)G_N_ELEMENTS(bad) + 2);
		g_assert_true(g_file_set_contents(path,
		                                  "{\"Version\": 1.0, \"AccessKeyId\": "
		                                  "\"AKIDFLOAT\", \"SecretAccessKey\": \"s\"}",
		                                  -1,
		                                  NULL));
		c = fst_aws_credentials_load("proc", NULL, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(c->access_key_id, ==, "AKIDFLOAT");
		g_clear_pointer(&c, fst_aws_credentials_free);
	}
	test_process_clean(dir);
}

/* whether the process @pid is gone (or a zombie nobody has reaped yet),
 * within two seconds */
static gboolean
test_process_gone(const gchar *pid)
{
	g_autofree gchar *stat = g_strdup_printf("/proc/%s/stat", pid);

	for (guint i = 0; i < 200; i++) {
		g_autofree gchar *text = NULL;
		const gchar *state;
		if (!g_file_get_contents(stat, &text, NULL, NULL))
			return TRUE;
		state = strrchr(text, ')');
		if (state != NULL && g_str_has_prefix(state, ") Z"))
			return TRUE;
		g_usleep(10 * 1000);
	}
	return FALSE;
}

/* a helper that does not finish is killed at the time limit with what it
 * started, whether it keeps its output open or has closed it; the run
 * fails, and keys held before stay (test hook: the limit is 300 ms) */
static void
test_credential_process_hung(TestFixture *fx, gconstpointer data)
{
	g_autofree gchar *dir = test_process_dir(fx);
	g_autofree gchar *helper = g_build_filename(dir, "helper.sh", NULL);
	g_autofree gchar *child_path = g_build_filename(dir, "child", NULL);
	g_autoptr(FstAwsCredentials) c = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *scripts[] = {
	    /* output open: a child that holds it, and a wait */
	    "#!/bin/sh\n"
	    "sleep 30 &\n"
	    "echo $! > \"$(dirname \"$0\")/child\"\n"
	    "wait\n",
	    /* the keys printed, the output closed, and no exit */
	    "#!/bin/sh\n"
	    "echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}'\n"
	    "exec >&-\n"
	    "sleep 30 &\n"
	    "echo $! > \"$(dirname \"$0\")/child\"\n"
	    "wait\n",
	};

	/* as the GUI or a batch job runs it, with no terminal: the helper gets
	 * a process group of its own (run from a shell, the test would
	 * otherwise leave the helper in the terminal's foreground group) */
	{
		gint null = open("/dev/null", O_RDONLY);
		g_assert_cmpint(null, >=, 0);
		g_assert_cmpint(dup2(null, STDIN_FILENO), ==, STDIN_FILENO);
		close(null);
	}
	g_setenv("FST_TEST_AWS_PROCESS_LIMIT_MS", "300", TRUE);
	test_process_config(fx, dir, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(scripts); i++) {
		g_autofree gchar *child = NULL;
		gint64 t0 = g_get_monotonic_time();

		g_assert_true(g_file_set_contents(helper, scripts[i], -1, NULL));
		g_assert_cmpint(g_chmod(helper, 0700), ==, 0);
		c = fst_aws_credentials_load("proc", NULL, NULL, &error);
		g_assert_null(c);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_test_message("%s", error->message);
		g_assert_nonnull(strstr(
		    error->message,
		    "had not finished (or left its output open) after 300 ms, and was killed"));
		g_assert_nonnull(strstr(error->message, "helper.sh"));
		g_clear_error(&error);
		/* killed at the limit, not when its child ends */
		g_assert_cmpint(g_get_monotonic_time() - t0, <, 20 * G_USEC_PER_SEC);
		g_assert_true(g_file_get_contents(child_path, &child, NULL, NULL));
		g_strstrip(child);
		g_assert_true(test_process_gone(child));
		g_unlink(child_path);
	}

	/* keys held: a refresh whose helper hangs keeps them */
	g_assert_true(g_file_set_contents(helper,
	                                  "#!/bin/sh\n"
	                                  "d=$(dirname \"$0\")\n"
	                                  "if [ -f \"$d/hang\" ]; then exec sleep 30; fi\n"
	                                  "cat \"$d/out-1.json\"\n",
	                                  -1,
	                                  NULL));
	g_assert_cmpint(g_chmod(helper, 0700), ==, 0);
	test_process_answer(dir, 1, "AKIDPROC1", 5 * 60);
	c = fst_aws_credentials_load("proc", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->access_key_id, ==, "AKIDPROC1");
	{
		g_autofree gchar *hang = g_build_filename(dir, "hang", NULL);
		g_assert_true(g_file_set_contents(hang, "", -1, NULL));
	}
	g_assert_false(fst_aws_credentials_refresh(c));
	g_assert_cmpstr(c->access_key_id, ==, "AKIDPROC1");
	g_assert_cmpstr(fst_secret_get_str(c->secret_access_key), ==, "secret-AKIDPROC1");
	g_clear_pointer(&c, fst_aws_credentials_free);
	g_unsetenv("FST_TEST_AWS_PROCESS_LIMIT_MS");
	test_process_clean(dir);
}

/* a station typed at a terminal (its foreground process group): the
 * helper asks for a code on the terminal and gets it, as with the AWS CLI
 * (in a process group of its own it would be stopped as it reads). Run in
 * a subprocess that makes a pty its controlling terminal, with the code
 * already typed */
static void
test_credential_process_terminal(TestFixture *fx, gconstpointer data)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *helper = NULL;
	g_autoptr(FstAwsCredentials) c = NULL;
	g_autoptr(GError) error = NULL;
	gint master, slave;

	if (!g_test_subprocess()) {
		g_test_trap_subprocess(NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
		g_test_trap_assert_passed();
		return;
	}
	dir = test_process_dir(fx);
	helper = g_build_filename(dir, "helper.sh", NULL);
	g_assert_true(g_file_set_contents(helper,
	                                  "#!/bin/sh\n"
	                                  "printf 'MFA code: ' > /dev/tty\n"
	                                  "read code < /dev/tty\n"
	                                  "echo \"{\\\"Version\\\": 1, \\\"AccessKeyId\\\": "
	                                  "\\\"AKID$code\\\", \\\"SecretAccessKey\\\": "
	                                  "\\\"s\\\"}\"\n",
	                                  -1,
	                                  NULL));
	g_assert_cmpint(g_chmod(helper, 0700), ==, 0);
	test_process_config(fx, dir, NULL);
	g_setenv("FST_TEST_AWS_PROCESS_LIMIT_MS", "5000", TRUE);

	g_assert_cmpint(setsid(), >=, 0);
	g_assert_cmpint(openpty(&master, &slave, NULL, NULL, NULL), ==, 0);
	g_assert_cmpint(ioctl(slave, TIOCSCTTY, 0), ==, 0);
	g_assert_cmpint(dup2(slave, STDIN_FILENO), ==, STDIN_FILENO);
	g_assert_cmpint(tcgetpgrp(STDIN_FILENO), ==, getpgrp());
	g_assert_cmpint(write(master, "246810\n", 7), ==, 7);

	c = fst_aws_credentials_load("proc", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->access_key_id, ==, "AKID246810");
	/* the terminal hung up as its master closes: its session leader (this
	 * process) would get SIGHUP */
	signal(SIGHUP, SIG_IGN);
	close(slave);
	close(master);
}

typedef struct {
	FstStation *station;
	FstProfile *profile;
	FstAwsIot *iot;
	gboolean done;
} TestLane;

/* one lane's start of a device with `issuer=aws`: its AWS client */
static gpointer
test_lane_thread(gpointer data)
{
	TestLane *lane = data;
	g_autoptr(GError) error = NULL;

	lane->iot = fst_station_new_aws_issuer(lane->station, lane->profile, &error);
	g_assert_no_error(error);
	g_atomic_int_set(&lane->done, TRUE);
	return NULL;
}

/* a lane that reads the station's keys again from a credential_process
 * does it outside the station's lock: another lane starting meanwhile gets
 * its client at once, with the keys held, and does not run the helper a
 * second time; the new keys are the station's once the helper answers */
static void
test_credential_process_station(TestFixture *fx, gconstpointer data)
{
	TestPeer peer = {0};
	TestLane first = {0};
	TestLane second = {0};
	g_autofree gchar *dir = test_process_dir(fx);
	g_autofree gchar *helper = g_build_filename(dir, "helper.sh", NULL);
	g_autofree gchar *fifo = g_build_filename(dir, "go", NULL);
	g_autofree gchar *ws = g_build_filename(fx->home, "station", NULL);
	g_autofree gchar *profile_path = g_build_filename(fx->home, "aws.profile", NULL);
	g_autofree gchar *url = NULL;
	g_autofree gchar *keys = NULL;
	g_autofree gchar *endpoint = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstStation) station = NULL;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(FstAwsIot) third = NULL;
	GThread *thread;
	FILE *go;

	/* run 2 waits for a line on the FIFO before it answers (20 s at most,
	 * so that a failed test leaves no helper behind) */
	g_assert_true(
	    g_file_set_contents(helper,
	                        "#!/bin/sh\n"
	                        "d=$(dirname \"$0\")\n"
	                        "n=$(( $(cat \"$d/count\" 2>/dev/null || echo 0) + 1 ))\n"
	                        "echo \"$n\" > \"$d/count\"\n"
	                        "if [ \"$n\" = 2 ]; then timeout 20 cat \"$d/go\" >/dev/null; fi\n"
	                        "cat \"$d/out-$n.json\"\n",
	                        -1,
	                        NULL));
	g_assert_cmpint(g_chmod(helper, 0700), ==, 0);
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	test_process_config(fx, dir, NULL);
	/* 12 minutes left: the station's refresh ahead is due, no client's */
	test_process_answer(dir, 1, "AKIDPROC1", 12 * 60);
	test_process_answer(dir, 2, "AKIDPROC2", 3600);
	test_peer_start(&peer);
	url = g_strdup_printf("http://127.0.0.1:%u", peer.port);
	g_setenv("AWS_ENDPOINT_URL", url, TRUE);
	g_setenv("AWS_PROFILE", "proc", TRUE);

	g_assert_true(fst_station_init_workspace(ws, "Credentials Test", &error));
	g_assert_no_error(error);
	station = fst_station_open(ws, &error);
	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(profile_path,
	                                  "[profile]\n"
	                                  "name=aws-issued\n"
	                                  "models=devsim-*\n"
	                                  "key-source=device-csr\n"
	                                  "key-types=ec-p256\n"
	                                  "issuer=aws\n"
	                                  "[subject]\n"
	                                  "cn={model}-{uid}\n"
	                                  "o=Credentials Test\n"
	                                  "[validity]\n"
	                                  "days=365\n"
	                                  "[aws]\n"
	                                  "region=eu-west-1\n",
	                                  -1,
	                                  NULL));
	profile = fst_profile_load(profile_path, &error);
	g_assert_no_error(error);
	g_assert_true(fst_station_connect_issuer(station, profile, &error));
	g_assert_no_error(error);
	g_assert_cmpint(test_process_runs(dir), ==, 1);
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDPROC1");
	g_clear_pointer(&keys, g_free);

	/* the first lane runs the helper, which waits */
	first.station = second.station = station;
	first.profile = second.profile = profile;
	thread = g_thread_new("first-lane", test_lane_thread, &first);
	for (guint i = 0; i < 1000 && test_process_runs(dir) < 2; i++)
		g_usleep(10 * 1000);
	g_assert_cmpint(test_process_runs(dir), ==, 2);

	/* the second lane is not held by it */
	g_thread_unref(g_thread_new("second-lane", test_lane_thread, &second));
	for (guint i = 0; i < 1000 && !g_atomic_int_get(&second.done); i++)
		g_usleep(10 * 1000);
	g_assert_true(g_atomic_int_get(&second.done));
	g_assert_false(g_atomic_int_get(&first.done));
	endpoint = test_describe(second.iot);
	g_assert_nonnull(endpoint);
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDPROC1");
	g_clear_pointer(&keys, g_free);

	/* the helper answers: the first lane's client and the station have the
	 * new keys, and the next lane runs no helper */
	go = fopen(fifo, "w");
	g_assert_nonnull(go);
	fputs("go\n", go);
	fclose(go);
	g_thread_join(thread);
	g_assert_true(first.done);
	g_free(test_describe(first.iot));
	third = fst_station_new_aws_issuer(station, profile, &error);
	g_assert_no_error(error);
	g_free(test_describe(third));
	keys = test_peer_take_keys(&peer);
	g_assert_cmpstr(keys, ==, "AKIDPROC2,AKIDPROC2");
	g_assert_cmpint(test_process_runs(dir), ==, 2);

	g_clear_object(&first.iot);
	g_clear_object(&second.iot);
	g_clear_object(&third);
	g_clear_pointer(&station, fst_station_unref);
	test_peer_stop(&peer);
	g_unlink(fifo);
	test_process_clean(dir);
	{
		g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", ws);
		g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL));
	}
	g_unlink(profile_path);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, TestFixture, NULL, test_setup, fn, test_teardown)
	ADD("/fst/aws/credentials/default-profile", test_default_profile);
	ADD("/fst/aws/credentials/environment-first", test_environment_first);
	ADD("/fst/aws/credentials/aws-profile-env", test_profile_env);
	ADD("/fst/aws/credentials/profile-flag-over-environment", test_profile_flag);
	ADD("/fst/aws/credentials/files-from-environment", test_files_from_env);
	ADD("/fst/aws/credentials/missing", test_missing);
	ADD("/fst/aws/credentials/keys-read-again", test_keys_read_again);
	ADD("/fst/aws/credentials/credential-process", test_credential_process);
	ADD("/fst/aws/credentials/credential-process-refused", test_credential_process_refused);
	ADD("/fst/aws/credentials/credential-process-expired-at-aws",
	    test_credential_process_expired_at_aws);
	ADD("/fst/aws/credentials/credential-process-hung", test_credential_process_hung);
	ADD("/fst/aws/credentials/credential-process-station", test_credential_process_station);
	ADD("/fst/aws/credentials/credential-process-terminal", test_credential_process_terminal);
	return g_test_run();
}
