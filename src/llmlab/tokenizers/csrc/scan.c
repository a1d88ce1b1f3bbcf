/* scan.c: the GPT-2 and cl100k pre-tokenizers as hand-written scanners.
 *
 * A pre-tokenizer cuts text into pieces before BPE, so merges never cross a piece boundary.
 * GPT-2 and tiktoken define the pieces with a regex and `findall`; here each regex is turned
 * into a function that looks at the code point under the cursor (and a few after it) and
 * returns the length of the match the regex engine would find there. The alternatives are
 * tried in the regex's order; comments quote the alternative each step implements.
 *
 * The classes \p{L} (letters), \p{N} (numbers) and \s (whitespace) come from
 * _unicode_tables.h, generated from the `regex` module itself, so they agree with the
 * readable path code point for code point. Each code point has at most one of the three
 * classes; "other" below means none of them ([^\s\p{L}\p{N}]: punctuation, symbols, marks).
 */
#include "fastbpe.h"

#include "../_unicode_tables.h"

enum { OTHER = 0, LETTER = 1, NUMBER = 2, SPACE = 4 };

/* The class of every code point below U+10000, filled once by fb_init_unicode: one byte
 * lookup instead of a binary search for nearly all text. */
static uint8_t bmp_class[0x10000];

static int in_ranges(uint32_t cp, const uint32_t (*ranges)[2], size_t n) {
    size_t lo = 0, hi = n; /* binary search over sorted, disjoint [first, last] ranges */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < ranges[mid][0])
            hi = mid;
        else if (cp > ranges[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static uint8_t class_by_search(uint32_t cp) {
    if (in_ranges(cp, LETTER_RANGES, N_LETTER_RANGES)) return LETTER;
    if (in_ranges(cp, NUMBER_RANGES, N_NUMBER_RANGES)) return NUMBER;
    if (in_ranges(cp, SPACE_RANGES, N_SPACE_RANGES)) return SPACE;
    return OTHER;
}

void fb_init_unicode(void) {
    for (uint32_t cp = 0; cp < 0x10000; cp++) bmp_class[cp] = class_by_search(cp);
}

static inline uint8_t class_of(uint32_t cp) { return cp < 0x10000 ? bmp_class[cp] : class_by_search(cp); }

/* The contraction letter (s d m t l v e r) that `cp` matches case-insensitively, or 0. */
static uint32_t folded_letter(uint32_t cp) {
    for (size_t k = 0; k < N_FOLDED_LETTERS; k++)
        if (FOLDED_LETTERS[k][0] == cp) return FOLDED_LETTERS[k][1];
    return 0;
}

/* Decode the code point at s[i] and store its byte length in *len (valid UTF-8 assumed). */
static inline uint32_t decode(const unsigned char *s, size_t i, size_t *len) {
    unsigned char b = s[i];
    if (b < 0x80) {
        *len = 1;
        return b;
    }
    if (b < 0xE0) {
        *len = 2;
        return ((uint32_t)(b & 0x1F) << 6) | (s[i + 1] & 0x3F);
    }
    if (b < 0xF0) {
        *len = 3;
        return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
           ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
}

/* The class of the code point at i, or -1 past the end of the text. */
static inline int class_at(const unsigned char *s, size_t n, size_t i) {
    size_t len;
    return i < n ? class_of(decode(s, i, &len)) : -1;
}

/* End of the run of code points of class `cls` starting at i (i itself if none). If `last` is
 * not NULL it receives where the run's last code point starts. */
static size_t run_end(const unsigned char *s, size_t n, size_t i, int cls, size_t *last) {
    size_t len, prev = i;
    while (i < n && class_of(decode(s, i, &len)) == cls) {
        prev = i;
        i += len;
    }
    if (last) *last = prev;
    return i;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t gpt2_piece(const unsigned char *s, size_t n, size_t i) {
    size_t len;
    uint32_t c = decode(s, i, &len);
    int cls = class_of(c);

    /* 1. 's|'t|'re|'ve|'m|'ll|'d : ASCII and case-sensitive. */
    if (c == '\'' && i + 1 < n) {
        unsigned char a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    /* 2. ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one
     *    class. The three classes are disjoint, so at most one of them can match here. */
    if (c == ' ') {
        int next = class_at(s, n, i + 1);
        if (next != -1 && next != SPACE) return run_end(s, n, i + 1, next, NULL) - i;
    } else if (cls != SPACE) {
        return run_end(s, n, i, cls, NULL) - i;
    }
    /* 3. `\s+(?!\S)`: whitespace not followed by a non-space. At the end of the text that is
     *    the whole run; before a non-space the regex backs off one code point, leaving the last
     *    space to start the next piece (" world"). */
    size_t last, end = run_end(s, n, i, SPACE, &last);
    if (end == n) return end - i;
    if (last > i) return last - i;
    /* 4. `\s+`: a single whitespace code point before a non-space. */
    return end - i;
}

/* cl100k (tiktoken_ext/openai_public.py, tiktoken 0.14):
 * '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s
 * The possessive quantifiers (?+ ++) never give back, which is what a scanner does anyway. */
static size_t cl100k_piece(const unsigned char *s, size_t n, size_t i) {
    size_t len;
    uint32_t c = decode(s, i, &len);
    int cls = class_of(c);

    /* 1. '(?i:[sdmt]|ll|ve|re): contractions in any case (regex also folds U+017F long s). */
    if (c == '\'' && i + 1 < n) {
        size_t len2, len3;
        uint32_t a = folded_letter(decode(s, i + 1, &len2));
        if (a == 's' || a == 'd' || a == 'm' || a == 't') return 1 + len2;
        if (a && i + 1 + len2 < n) {
            uint32_t b = folded_letter(decode(s, i + 1 + len2, &len3));
            if ((a == 'l' && b == 'l') || (a == 'v' && b == 'e') || (a == 'r' && b == 'e')) return 1 + len2 + len3;
        }
    }
    /* 2. [^\r\n\p{L}\p{N}]?+\p{L}++ : letters, with one optional leading code point that is not
     *    a newline, letter or number (a space, a tab, punctuation: " hello", "(hello"). */
    if (cls == LETTER) return run_end(s, n, i, LETTER, NULL) - i;
    if (cls != NUMBER && c != '\r' && c != '\n' && class_at(s, n, i + len) == LETTER)
        return run_end(s, n, i + len, LETTER, NULL) - i;
    /* 3. \p{N}{1,3}+ : numbers, at most three code points at a time ("2024" -> "202", "4"). */
    if (cls == NUMBER) {
        size_t j = i + len, len2;
        for (int k = 1; k < 3 && j < n && class_of(decode(s, j, &len2)) == NUMBER; k++) j += len2;
        return j - i;
    }
    /* 4.  ?[^\s\p{L}\p{N}]++[\r\n]*+ : an optional space, a run of "other", then any newlines. */
    size_t j = (c == ' ' && class_at(s, n, i + 1) == OTHER) ? i + 1 : i;
    if (class_at(s, n, j) == OTHER) {
        size_t end = run_end(s, n, j, OTHER, NULL);
        while (end < n && (s[end] == '\r' || s[end] == '\n')) end++;
        return end - i;
    }
    /* From here on c is whitespace. */
    size_t last, end = run_end(s, n, i, SPACE, &last);
    /* 5. \s++$ : trailing whitespace is one piece. (subtle: `$` also matches before a final
     *    "\n", but the possessive run has already eaten that newline, so only the end counts.) */
    if (end == n) return end - i;
    /* 6. \s*[\r\n] : whitespace up to and including the run's last \r or \n. */
    for (size_t k = end; k > i; k--)
        if (s[k - 1] == '\r' || s[k - 1] == '\n') return k - i;
    /* 7. \s+(?!\S) : as in GPT-2, all but the last whitespace before a non-space. */
    if (last > i) return last - i;
    /* 8. \s : one whitespace code point. */
    return len;
}

size_t fb_next_piece(Pattern pattern, const unsigned char *s, size_t n, size_t i) {
    return pattern == PATTERN_GPT2 ? gpt2_piece(s, n, i) : cl100k_piece(s, n, i);
}

/* ---- bytes from outside CPython: validation and safe cut points ------------------------------- */

#define BAD_CP 0xFFFFFFFFu

/* Decode the code point at s[i] (i < n) with every check CPython's strict UTF-8 decoder makes:
 * BAD_CP for a stray continuation byte, a truncated sequence, an overlong form, a surrogate or
 * a value past U+10FFFF. */
static uint32_t decode_checked(const unsigned char *s, size_t n, size_t i, size_t *len) {
    unsigned char b = s[i];
    size_t need;
    uint32_t cp, min;
    if (b < 0x80) {
        *len = 1;
        return b;
    } else if (b >= 0xC2 && b <= 0xDF) {
        need = 1, cp = b & 0x1F, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2, cp = b & 0x0F, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3, cp = b & 0x07, min = 0x10000;
    } else {
        return BAD_CP;
    }
    if (n - i <= need) return BAD_CP;
    for (size_t k = 1; k <= need; k++) {
        if ((s[i + k] & 0xC0) != 0x80) return BAD_CP;
        cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return BAD_CP;
    *len = need + 1;
    return cp;
}

int64_t fb_utf8_error(const unsigned char *s, size_t n) {
    size_t len;
    for (size_t i = 0; i < n; i += len) {
        if (s[i] < 0x80) { /* ASCII: the common case, one compare */
            len = 1;
            continue;
        }
        if (decode_checked(s, n, i, &len) == BAD_CP) return (int64_t)i;
    }
    return -1;
}

/* The class of the code point that ends just before s[k], or -1 if those bytes are not valid. */
static int class_before(const unsigned char *s, size_t k) {
    size_t j = k - 1, len;
    while (j > 0 && k - j < 4 && (s[j] & 0xC0) == 0x80) j--; /* back over continuation bytes */
    uint32_t cp = decode_checked(s, k, j, &len);
    return cp == BAD_CP || j + len != k ? -1 : class_of(cp);
}

/* The class of the code point that starts at s[k], or -1 (past the end, or not valid). */
static int class_after(const unsigned char *s, size_t n, size_t k) {
    size_t len;
    if (k >= n) return -1;
    uint32_t cp = decode_checked(s, n, k, &len);
    return cp == BAD_CP ? -1 : class_of(cp);
}

size_t fb_last_safe_cut(const unsigned char *s, size_t n) {
    /* 1. after the last "\n" that has a non-space code point on both sides */
    for (size_t k = n; k-- > 1;) {
        if (s[k] != '\n') continue;
        int before = class_before(s, k), after = class_after(s, n, k + 1);
        if (before != -1 && before != SPACE && after != -1 && after != SPACE) return k + 1;
    }
    /* 2. before the last " " that follows a letter */
    for (size_t k = n; k-- > 1;)
        if (s[k] == ' ' && class_before(s, k) == LETTER) return k;
    return 0;
}
