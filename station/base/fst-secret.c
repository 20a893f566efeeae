/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstSecret"

#include "fst-secret.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fst-crypto.h"
#include "fst-error.h"

/* a passphrase or key file larger than this is not one */
#define FST_SECRET_MAX_FILE 65536

struct _FstSecret {
	gsize len;
	guint8 *data; /* (owned): len + 1 bytes, the last one NUL */
};

/**
 * fst_secret_new:
 * @data: (array length=len): bytes to copy
 * @len: length of @data
 *
 * Returns: (transfer full): a new #FstSecret holding a copy of @data
 */
FstSecret *
fst_secret_new(const guint8 *data, gsize len)
{
	FstSecret *self = g_new0(FstSecret, 1);
	self->len = len;
	self->data = g_malloc0(len + 1);
	if (len > 0)
		memcpy(self->data, data, len);
	return self;
}

/**
 * fst_secret_new_random_passphrase:
 * @n_bytes: how many random bytes of entropy
 * @error: (nullable): return location
 *
 * Makes a printable passphrase (lower-case hex) from @n_bytes of the OpenSSL
 * CSPRNG.
 *
 * Returns: (transfer full): a new #FstSecret, or %NULL if the CSPRNG failed
 */
FstSecret *
fst_secret_new_random_passphrase(gsize n_bytes, GError **error)
{
	g_autofree guint8 *raw = g_malloc0(n_bytes);
	FstSecret *self;

	if (RAND_bytes(raw, (int)n_bytes) != 1) {
		g_set_error_literal(
		    error, FST_ERROR, FST_ERROR_INTERNAL, "the random number generator failed");
		return NULL;
	}
	self = g_new0(FstSecret, 1);
	self->len = n_bytes * 2;
	self->data = g_malloc0(self->len + 1);
	fst_crypto_hex_into((gchar *)self->data, self->len + 1, raw, n_bytes, FALSE);
	OPENSSL_cleanse(raw, n_bytes);
	return self;
}

/* a passphrase file ends with one optional newline, which is not part of it */
static void
fst_secret_strip_newline(FstSecret *self)
{
	while (self->len > 0 &&
	       (self->data[self->len - 1] == '\n' || self->data[self->len - 1] == '\r')) {
		self->data[self->len - 1] = '\0';
		self->len--;
	}
}

/**
 * fst_secret_new_from_file:
 * @path: a file holding a passphrase (a trailing newline is dropped)
 * @error: (nullable): return location
 *
 * Reads a secret from a file. A file that others than its owner can read is
 * refused, as ssh does with its keys.
 *
 * Returns: (transfer full): a new #FstSecret, or %NULL with @error set
 */
FstSecret *
fst_secret_new_from_file(const gchar *path, GError **error)
{
	FstSecret *self;
	struct stat st;
	gssize n;
	int fd = g_open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);

	if (fd < 0) {
		g_set_error(error,
		            FST_ERROR,
		            errno == ENOENT ? FST_ERROR_NOT_FOUND : FST_ERROR_PERMISSION_DENIED,
		            "cannot open secret file %s: %s",
		            path,
		            g_strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "secret file %s is not a regular file",
		            path);
		close(fd);
		return NULL;
	}
	if ((st.st_mode & 077) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "secret file %s can be read by others (mode %04o): run chmod 600 %s",
		            path,
		            (guint)(st.st_mode & 07777),
		            path);
		close(fd);
		return NULL;
	}
	if (st.st_size > FST_SECRET_MAX_FILE) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CONFIG, "secret file %s is too large", path);
		close(fd);
		return NULL;
	}
	self = g_new0(FstSecret, 1);
	self->data = g_malloc0((gsize)st.st_size + 1);
	n = read(fd, self->data, (gsize)st.st_size);
	close(fd);
	if (n < 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot read %s: %s",
		            path,
		            g_strerror(errno));
		fst_secret_free(self);
		return NULL;
	}
	self->len = (gsize)n;
	fst_secret_strip_newline(self);
	return self;
}

/**
 * fst_secret_new_from_env:
 * @name: an environment variable
 * @error: (nullable): return location
 *
 * Returns: (transfer full): a new #FstSecret with the variable's value, or
 * %NULL with %FST_ERROR_NOT_FOUND if it is unset or empty
 */
FstSecret *
fst_secret_new_from_env(const gchar *name, GError **error)
{
	const gchar *value = g_getenv(name);
	if (value == NULL || value[0] == '\0') {
		g_set_error(error, FST_ERROR, FST_ERROR_NOT_FOUND, "%s is not set", name);
		return NULL;
	}
	return fst_secret_new((const guint8 *)value, strlen(value));
}

/**
 * fst_secret_save:
 * @self: an #FstSecret
 * @path: destination, created mode 0600
 * @error: (nullable): return location
 *
 * Returns: %TRUE on success
 */
gboolean
fst_secret_save(const FstSecret *self, const gchar *path, GError **error)
{
	return fst_file_set_contents_private(path, self->data, self->len, error);
}

/**
 * fst_secret_get_data:
 * @self: an #FstSecret
 * @len: (out) (optional): length
 *
 * Returns: (transfer none): the bytes, valid while @self lives
 */
const guint8 *
fst_secret_get_data(const FstSecret *self, gsize *len)
{
	if (len != NULL)
		*len = self->len;
	return self->data;
}

/**
 * fst_secret_get_str:
 * @self: an #FstSecret
 *
 * Returns: (transfer none): the bytes as a NUL-terminated string
 */
const gchar *
fst_secret_get_str(const FstSecret *self)
{
	return (const gchar *)self->data;
}

gsize
fst_secret_get_len(const FstSecret *self)
{
	return self->len;
}

/**
 * fst_secret_free:
 * @self: (nullable) (transfer full): an #FstSecret
 *
 * Wipes and frees @self.
 */
void
fst_secret_free(FstSecret *self)
{
	if (self == NULL)
		return;
	if (self->data != NULL) {
		OPENSSL_cleanse(self->data, self->len + 1);
		g_free(self->data);
	}
	g_free(self);
}
