/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key pool of key-injection mode: RSA key generation takes from about
 * 0.2 s (2048) to 2 s (4096) here, so a background thread keeps a few keys of
 * each type the line needs ready, and fst_key_pool_take() returns at once
 * while the pool is not empty. EC keys take well under a millisecond and are
 * made on the spot when the pool has none.
 *
 * Pooled keys live only in memory, as OpenSSL key objects (freed with their
 * private parts wiped); a key is handed out once and then belongs to the
 * caller, who must not keep it longer than burning it takes.
 */

#define G_LOG_DOMAIN "FstKeyPool"

#include "fst-keypool.h"

#include <openssl/err.h>

#include "fst-crypto.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

#define FST_KEY_POOL_N_TYPES 6

struct _FstKeyPool {
	GMutex lock;
	GCond cond;      /* signalled when a key is added or taken, or on stop */
	GThread *thread; /* (owned) */
	gboolean stop;
	guint key_types;                    /* FstKeyType flags kept ready */
	guint depth;                        /* keys kept ready per type */
	GQueue ready[FST_KEY_POOL_N_TYPES]; /* (element-type EVP_PKEY) */
};

static guint
fst_key_pool_index(FstKeyType key_type)
{
	for (guint i = 0; i < FST_KEY_POOL_N_TYPES; i++) {
		if (key_type == (FstKeyType)(1u << i))
			return i;
	}
	return G_MAXUINT;
}

/* the type most short of its depth, or NONE when all are full; called locked */
static FstKeyType
fst_key_pool_next_type(FstKeyPool *self)
{
	FstKeyType best = FST_KEY_TYPE_NONE;
	guint best_len = G_MAXUINT;

	for (guint i = 0; i < FST_KEY_POOL_N_TYPES; i++) {
		guint len = self->ready[i].length;
		if ((self->key_types & (1u << i)) == 0 || len >= self->depth)
			continue;
		if (len < best_len) {
			best = (FstKeyType)(1u << i);
			best_len = len;
		}
	}
	return best;
}

static gpointer
fst_key_pool_thread(gpointer user_data)
{
	FstKeyPool *self = user_data;

	g_mutex_lock(&self->lock);
	while (!self->stop) {
		FstKeyType key_type = fst_key_pool_next_type(self);
		g_autoptr(GError) error = NULL;
		EVP_PKEY *key;
		if (key_type == FST_KEY_TYPE_NONE) {
			g_cond_wait(&self->cond, &self->lock);
			continue;
		}
		/* generate unlocked: takers must not wait for a key being made */
		g_mutex_unlock(&self->lock);
		key = fst_crypto_generate_key(key_type, &error);
		g_mutex_lock(&self->lock);
		if (key == NULL) {
			g_warning("key pool: %s", error->message);
			/* do not spin on a failing generator */
			g_mutex_unlock(&self->lock);
			g_usleep(G_USEC_PER_SEC);
			g_mutex_lock(&self->lock);
			continue;
		}
		g_queue_push_tail(&self->ready[fst_key_pool_index(key_type)], key);
		g_cond_broadcast(&self->cond);
	}
	g_mutex_unlock(&self->lock);
	return NULL;
}

/**
 * fst_key_pool_new:
 * @key_types: the #FstKeyType flags to keep ready (the types of the line's
 *   station-generated profiles)
 * @depth: how many keys of each type to keep ready, 1 or more
 *
 * Starts the background thread, which fills the pool at once.
 *
 * Returns: (transfer full): a new #FstKeyPool
 */
FstKeyPool *
fst_key_pool_new(guint key_types, guint depth)
{
	FstKeyPool *self = g_new0(FstKeyPool, 1);

	g_mutex_init(&self->lock);
	g_cond_init(&self->cond);
	for (guint i = 0; i < FST_KEY_POOL_N_TYPES; i++)
		g_queue_init(&self->ready[i]);
	self->key_types = key_types;
	self->depth = MAX(depth, 1);
	self->thread = g_thread_new("fst-key-pool", fst_key_pool_thread, self);
	return self;
}

static void
fst_key_pool_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	FstKeyPool *self = user_data;
	(void)cancellable;
	g_mutex_lock(&self->lock);
	g_cond_broadcast(&self->cond);
	g_mutex_unlock(&self->lock);
}

/**
 * fst_key_pool_take:
 * @self: an #FstKeyPool
 * @key_type: a single #FstKeyType
 * @cancellable: (nullable): stops the wait
 * @error: (nullable): return location
 *
 * Takes a ready key of @key_type out of the pool: at once if one is ready;
 * an EC key is generated on the spot if none is; an RSA key of a type the pool
 * keeps is waited for (the pool makes one), and one of a type it does not keep
 * is generated in the calling thread.
 *
 * Returns: (transfer full): a key pair the caller now owns (free it with
 * EVP_PKEY_free(), which wipes it), or %NULL with %FST_ERROR_CANCELLED or an
 * error from fst_crypto_generate_key()
 */
EVP_PKEY *
fst_key_pool_take(FstKeyPool *self, FstKeyType key_type, GCancellable *cancellable, GError **error)
{
	guint idx = fst_key_pool_index(key_type);
	gboolean is_rsa =
	    (key_type & (FST_KEY_TYPE_RSA_2048 | FST_KEY_TYPE_RSA_3072 | FST_KEY_TYPE_RSA_4096)) !=
	    0;
	EVP_PKEY *key = NULL;
	gulong handler = 0;

	g_return_val_if_fail(self != NULL, NULL);

	if (idx == G_MAXUINT)
		return fst_crypto_generate_key(key_type, error);
	if (cancellable != NULL)
		handler = g_cancellable_connect(
		    cancellable, G_CALLBACK(fst_key_pool_cancelled_cb), self, NULL);
	g_mutex_lock(&self->lock);
	for (;;) {
		key = g_queue_pop_head(&self->ready[idx]);
		if (key != NULL || !is_rsa || (self->key_types & key_type) == 0 ||
		    g_cancellable_is_cancelled(cancellable))
			break;
		g_cond_wait(&self->cond, &self->lock);
	}
	/* wake the generator: the pool is one short */
	g_cond_broadcast(&self->cond);
	g_mutex_unlock(&self->lock);
	if (handler != 0)
		g_cancellable_disconnect(cancellable, handler);
	if (key != NULL)
		return key;
	if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
		fst_error_convert_gio(error);
		return NULL;
	}
	return fst_crypto_generate_key(key_type, error);
}

/**
 * fst_key_pool_get_ready:
 * @self: an #FstKeyPool
 * @key_type: a single #FstKeyType
 *
 * Returns: how many keys of @key_type are ready now
 */
guint
fst_key_pool_get_ready(FstKeyPool *self, FstKeyType key_type)
{
	guint idx = fst_key_pool_index(key_type);
	guint n;

	if (idx == G_MAXUINT)
		return 0;
	g_mutex_lock(&self->lock);
	n = self->ready[idx].length;
	g_mutex_unlock(&self->lock);
	return n;
}

/**
 * fst_key_pool_wait_ready:
 * @self: an #FstKeyPool
 * @key_type: a single #FstKeyType
 * @n: how many keys
 * @timeout_ms: how long to wait at most
 *
 * Waits until @n keys of @key_type are ready, e.g. before a line starts.
 *
 * Returns: %TRUE if they are, %FALSE on timeout
 */
gboolean
fst_key_pool_wait_ready(FstKeyPool *self, FstKeyType key_type, guint n, guint timeout_ms)
{
	guint idx = fst_key_pool_index(key_type);
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gboolean ok;

	if (idx == G_MAXUINT)
		return FALSE;
	g_mutex_lock(&self->lock);
	while (self->ready[idx].length < n && g_cond_wait_until(&self->cond, &self->lock, end))
		;
	ok = self->ready[idx].length >= n;
	g_mutex_unlock(&self->lock);
	return ok;
}

/**
 * fst_key_pool_free:
 * @self: (nullable) (transfer full): an #FstKeyPool
 *
 * Stops the background thread (after the key it is making, if any) and frees
 * every pooled key, wiping it.
 */
void
fst_key_pool_free(FstKeyPool *self)
{
	if (self == NULL)
		return;
	g_mutex_lock(&self->lock);
	self->stop = TRUE;
	g_cond_broadcast(&self->cond);
	g_mutex_unlock(&self->lock);
	g_thread_join(self->thread);
	for (guint i = 0; i < FST_KEY_POOL_N_TYPES; i++)
		g_queue_clear_full(&self->ready[i], (GDestroyNotify)EVP_PKEY_free);
	g_mutex_clear(&self->lock);
	g_cond_clear(&self->cond);
	g_free(self);
}
