// classify_digits.cpp - the digits model through the header-only C++ wrapper (bindings/cpp).
//
//   classify_digits_cpp models/digits_mlp.onnx models/digits/test0_label2.npy ...
// prints one line per file: "FILE: DIGIT (probability P)". Errors arrive as aistack::Error.
#include <aistack.hpp>

#include <cstdio>
#include <iostream>

int main(int argc, char **argv) {
    if (argc < 3) {
        std::cerr << "usage: " << argv[0] << " MODEL IMAGE.npy...\n";
        return 2;
    }
    try {
        aistack::Model model(argv[1]);
        aistack::Session session = model.session();
        for (int i = 2; i < argc; i++) {
            aistack::Tensor pixels = aistack::Tensor::load(argv[i]);
            std::vector<aistack::Tensor> out = session.run({pixels});
            int64_t digit = out[1].data<int64_t>()[0];
            float p = out[0].data<float>()[digit];
            std::printf("%s: %lld (probability %.3f)\n", argv[i], (long long)digit, p);
        }
    } catch (const aistack::Error &e) {
        std::cerr << "classify_digits_cpp: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
