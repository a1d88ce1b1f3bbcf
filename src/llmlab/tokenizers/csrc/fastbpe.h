/* fastbpe.h: the parts of the compiled BPE fast path, shared by its C files.
 *
 * The fast path does in C what the readable tokenizers do in Python, with the same results:
 *
 *   scan.c     text -> pieces: the GPT-2 and cl100k pre-tokenizer regexes, as hand-written
 *              scanners over code points (Unicode classes from ../_unicode_tables.h);
 *   maps.c     a hash map from byte strings to integers (piece counts, token ranks) and a
 *              growable int array;
 *   encode.c   one piece -> token ids by merging the lowest-ranked adjacent pair (tiktoken's rule);
 *   train.c    word counts -> the list of merges (the BPE trainer);
 *   ../_fastbpe.c   the Python module that wraps them (no Python objects in the files above).
 *
 * All text is UTF-8 that CPython produced (so it is valid: the scanners never re-check it).
 * Functions that allocate return 0 on success and -1 when memory ran out.
 */
#ifndef LLMLAB_FASTBPE_H
#define LLMLAB_FASTBPE_H

#include <stddef.h>
#include <stdint.h>

/* ---- 1. Pre-tokenizers (scan.c) ------------------------------------------------------------- */

typedef enum {
    PATTERN_GPT2 = 0,   /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    PATTERN_CL100K = 1, /* tiktoken's cl100k_base pattern (see scan.c) */
} Pattern;

/* Fill the lookup table of the Basic Multilingual Plane; call once before scanning. */
void fb_init_unicode(void);

/* Byte length of the piece that starts at s[i] (0 <= i < n): exactly the match that
 * regex.findall would return at that position. Every position starts a match for both
 * patterns, so pieces tile the text with no gaps. */
size_t fb_next_piece(Pattern pattern, const unsigned char *s, size_t n, size_t i);

/* For UTF-8 that did not come from CPython (file chunks passed as bytes): the offset of the first
 * byte that is not valid UTF-8 (as Python's strict decoder defines it), or -1 if all is valid. */
int64_t fb_utf8_error(const unsigned char *s, size_t n);

/* The last position where s[0:n] can be cut without changing its pieces (pieces(s) ==
 * pieces(s[:k]) + pieces(s[k:]) for both patterns), or 0 if there is none:
 *   1. just after a "\n" that has a non-space code point on both sides;
 *   2. else just before a " " that follows a letter.
 * Safe on any bytes: invalid UTF-8 around a candidate just rules that candidate out. */
size_t fb_last_safe_cut(const unsigned char *s, size_t n);

/* ---- 2. Byte-string hash map and int vector (maps.c) ---------------------------------------- */

/* One key -> value entry. The key's bytes live in the map's arena at `off`. */
typedef struct {
    uint64_t off;   /* where the key starts in BytesMap.keys */
    uint32_t len;   /* key length in bytes */
    uint32_t hash;  /* fb_hash(key), kept so that growing the table never rehashes bytes */
    int64_t value;  /* a count, a rank, or an offset: the user of the map decides */
} BMEntry;

/* Open addressing with linear probing, like CPython's compact dict: `slots` holds indexes into
 * the dense `entries` array (so entries stay in insertion order and iterate fast), and all key
 * bytes are copied back to back into one arena (one allocation instead of one per key). */
typedef struct {
    uint32_t *slots;     /* 0 = empty, otherwise 1 + index into entries */
    size_t n_slots;      /* a power of two, at least twice the number of entries */
    BMEntry *entries;
    size_t n_entries, cap_entries;
    unsigned char *keys; /* the arena */
    size_t keys_len, keys_cap;
} BytesMap;

uint32_t fb_hash(const unsigned char *key, size_t len);
int bm_init(BytesMap *m, size_t expected_entries);
void bm_free(BytesMap *m);
/* The entry of `key`, or NULL. */
BMEntry *bm_find(const BytesMap *m, const unsigned char *key, size_t len);
/* The entry of `key`, inserted with value 0 if it was missing; NULL when memory ran out. */
BMEntry *bm_upsert(BytesMap *m, const unsigned char *key, size_t len);
static inline const unsigned char *bm_key(const BytesMap *m, const BMEntry *e) { return m->keys + e->off; }

/* A growable array of 32-bit ints (token ids, merges). */
typedef struct {
    int32_t *data;
    size_t len, cap;
} IntVec;

int iv_push(IntVec *v, int32_t x);
/* Room for `extra` more items of `size` bytes after the `len` used in `buf` (capacity *cap
 * items): returns the buffer, moved if it had to grow (doubling, so appends are amortised O(1)),
 * or NULL when memory ran out, in which case `buf` is still valid and unchanged. */
void *fb_grow(void *buf, size_t *cap, size_t len, size_t extra, size_t size);
void iv_free(IntVec *v);

/* ---- 3. Rank-based BPE encoding (encode.c) -------------------------------------------------- */

enum { FB_OK = 0, FB_NOMEM = -1, FB_MISSING_RANK = -2 };

/* Append the token ids of one piece to `out`: start from single bytes, repeatedly merge the
 * adjacent pair whose concatenation has the lowest rank (leftmost on ties) until no adjacent
 * pair has a rank. Returns FB_OK, FB_NOMEM, or FB_MISSING_RANK when a final part has no rank
 * (then *missing_at / *missing_len say which bytes of the piece). */
int fb_bpe_encode_piece(const BytesMap *ranks, const unsigned char *piece, size_t n, IntVec *out,
                        size_t *missing_at, size_t *missing_len);

/* ---- 4. BPE training (train.c) -------------------------------------------------------------- */

/* Learn merges from `words` (word bytes -> count, counts >= 1) until `num_merges` new tokens exist.
 * Symbol i < 256 is the byte byte_order[i] (NULL: byte i); each merge makes the next symbol id,
 * unless its bytes already are a token, whose id it then reuses. Each merge is appended to
 * `merges` as two ints (left, right). Stops early when the best pair occurs fewer than
 * max(min_frequency, 1) times. Returns FB_OK or FB_NOMEM. */
int fb_train(const BytesMap *words, int32_t num_merges, int64_t min_frequency, const unsigned char *byte_order,
             IntVec *merges);

#endif /* LLMLAB_FASTBPE_H */
