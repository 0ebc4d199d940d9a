/* The README's C example: classify one 8x8 digit with the shipped model, free everything.
 * The tests build it against an installed prefix (tests/check_install.sh) and check that the
 * README shows this file unchanged.   usage: readme_example models/digits_mlp.onnx */
#include <aistack/aistack.h>
#include <stdio.h>

int main(int argc, char **argv) {
    /* One 8x8 image, row by row, grey levels 0..16 (models/digits/test0_label2.npy: a "2"). */
    float pixels[64] = {0, 0, 11, 16, 15, 3,  0, 0, 0, 5, 16, 12, 11, 13, 0,  0,
                        0, 3, 13, 1,  5,  15, 0, 0, 0, 0, 0,  0,  12, 11, 0,  0,
                        0, 0, 0,  1,  16, 7,  0, 0, 0, 0, 0,  10, 15, 0,  0,  0,
                        0, 0, 12, 16, 16, 11, 1, 0, 0, 0, 13, 13, 8,  13, 16, 8};
    int64_t shape[2] = {1, 64};
    ais_model *model = NULL;
    ais_session *session = NULL;
    ais_tensor *input = NULL;
    ais_tensor *outputs[2] = {NULL, NULL}; /* probabilities [1, 10], digit [1] */
    int rc = 1;

    if (ais_model_load(argc > 1 ? argv[1] : "models/digits_mlp.onnx", NULL, &model) != AIS_OK ||
        ais_session_create(model, NULL, &session) != AIS_OK || /* one per thread */
        ais_tensor_wrap(AIS_DTYPE_F32, shape, 2, pixels, sizeof pixels, NULL, NULL, &input) !=
            AIS_OK || /* no copy: the tensor reads `pixels` */
        ais_session_run(session, NULL, (const ais_tensor *const *)&input, 1, NULL, outputs, 2) !=
            AIS_OK) {
        fprintf(stderr, "error: %s\n", ais_last_error()); /* names the file, node or input */
        goto done;
    }
    const float *probs = ais_tensor_data(outputs[0]);
    int64_t digit = *(const int64_t *)ais_tensor_data(outputs[1]);
    printf("digit %lld (probability %.3f)\n", (long long)digit, probs[digit]);
    rc = 0;
done: /* destroying NULL is a no-op, so one exit path frees whatever was made */
    ais_tensor_destroy(outputs[0]);
    ais_tensor_destroy(outputs[1]);
    ais_tensor_destroy(input);
    ais_session_destroy(session);
    ais_model_destroy(model);
    return rc;
}
