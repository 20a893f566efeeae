/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstAwsCredentialsTest"

#include <glib/gstdio.h>
#include <string.h>

#include "fst-aws-credentials.h"
#include "fst-error.h"

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
	return g_test_run();
}
