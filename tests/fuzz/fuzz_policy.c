/*
 * libFuzzer target for the policy parser: each input is parsed as a
 * bucket policy (for bucket "b"), an identity policy and a key policy;
 * whatever parses is also evaluated once, inspected and linted, so the
 * evaluator and the linter see every shape the parser accepts.
 *
 * Not part of the meson build.  From the top of the tree:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -I. -Isrc tests/fuzz/fuzz_policy.c \
 *       $(find src/policy src/util -name '*.c') \
 *       $(pkg-config --cflags --libs jansson libcrypto) -o fuzz_policy
 *   mkdir -p corpus && ./fuzz_policy -max_len=4096 corpus
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "policy/policy.h"
#include "util/buf.h"

static void
exercise(const struct policy *p)
{
    static const struct policy_principal who = {
        POLICY_PRINCIPAL_USER, "arn:aws:iam::111122223333:user/alice",
        "111122223333", "alice", "AIDAEXAMPLE",
    };
    struct policy_ctx *c = policy_ctx_new();
    struct buf lint = BUF_INIT;
    struct policy_request r = { &who, "s3:PutObject", "arn:aws:s3:::b/k",
                                NULL };
    char *w;

    if (c != NULL) {
        policy_ctx_add(c, "s3:x-amz-server-side-encryption", "aws:kms");
        policy_ctx_add(c, "aws:SourceIp", "10.1.2.3");
        policy_ctx_add(c, "aws:CurrentTime", "2026-12-04T15:19:17Z");
        policy_ctx_add(c, "s3:prefix", "*?${aws:username}");
    }
    r.ctx = c;
    (void)policy_eval(p, &r);
    (void)policy_decide_s3(p, &p, 1, "111122223333", &r);
    (void)policy_is_public(p);
    w = policy_warnings(p);
    free(w);
    (void)policy_lint(p, &lint, &lint);
    buf_free(&lint);
    policy_ctx_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum policy_kind kinds[] = {
        POLICY_BUCKET, POLICY_IDENTITY, POLICY_KEY,
    };
    struct err_detail d;
    struct policy *p;
    size_t i;

    for (i = 0; i < 3; i++) {
        if (policy_parse((const char *)data, size, kinds[i], "b", &p,
                         &d) == 0) {
            exercise(p);
            policy_free(p);
        }
    }
    return 0;
}
