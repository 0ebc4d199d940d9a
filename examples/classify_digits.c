/*
 * classify_digits.c - load the digits model, run it on 8x8 images stored as .npy, print digits.
 *
 *   classify_digits models/digits_mlp.onnx models/digits/test0_label2.npy ...
 * prints one line per file: "FILE: DIGIT (probability P)".
 */
#include <aistack/aistack.h>
#include <stdio.h>

static int fail(const char *what) {
    fprintf(stderr, "classify_digits: %s: %s\n", what, ais_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL IMAGE.npy...\n", argv[0]);
        return 2;
    }
    ais_model *model = NULL;
    ais_session *session = NULL;
    int rc = 0;
    if (ais_model_load(argv[1], NULL, &model) != AIS_OK) {
        return fail(argv[1]);
    }
    if (ais_session_create(model, NULL, &session) != AIS_OK) {
        rc = fail("session");
        goto done;
    }
    for (int i = 2; i < argc && rc == 0; i++) {
        ais_tensor *pixels = NULL;
        ais_tensor *outputs[2] = {NULL, NULL}; /* probabilities [1, 10], digit [1] */
        if (ais_tensor_load(argv[i], &pixels) != AIS_OK) {
            rc = fail(argv[i]);
            break;
        }
        if (ais_session_run(session, NULL, (const ais_tensor *const *)&pixels, 1, NULL, outputs,
                            2) != AIS_OK) {
            rc = fail(argv[i]);
        } else {
            const float *probs = ais_tensor_data(outputs[0]);
            int64_t digit = *(const int64_t *)ais_tensor_data(outputs[1]);
            printf("%s: %lld (probability %.3f)\n", argv[i], (long long)digit, probs[digit]);
        }
        ais_tensor_destroy(outputs[0]);
        ais_tensor_destroy(outputs[1]);
        ais_tensor_destroy(pixels);
    }
done:
    ais_session_destroy(session);
    ais_model_destroy(model);
    return rc;
}
