/* pool.cu - direct MaxPool/AveragePool for the windows cuDNN cannot express (ceil_mode,
 * asymmetric pads, dilations); the arithmetic mirrors the CPU operator (lib/ops/pool.c). */
#include "aisk_device.cuh"

using namespace aisk;

namespace {

template <typename T>
__global__ void pool_kernel(const T *__restrict__ x, T *__restrict__ y, aisk_pool_desc d,
                            size_t n) {
    const int64_t osz = d.out[0] * d.out[1] * d.out[2], isz = d.in[0] * d.in[1] * d.in[2];
    const float kvol = (float)(d.k[0] * d.k[1] * d.k[2]);
    size_t step = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        int64_t t = (int64_t)i / osz, o = (int64_t)i - t * osz;
        int64_t ow = o % d.out[2], oh = (o / d.out[2]) % d.out[1], od = o / (d.out[2] * d.out[1]);
        const T *xp = x + t * isz;
        float acc = d.kind == 0 ? -INFINITY : 0.f;
        int64_t count = 0;
        for (int64_t kd = 0; kd < d.k[0]; kd++) {
            int64_t id = od * d.stride[0] - d.pb[0] + kd * d.dil[0];
            if (id < 0 || id >= d.in[0]) continue;
            for (int64_t kh = 0; kh < d.k[1]; kh++) {
                int64_t ih = oh * d.stride[1] - d.pb[1] + kh * d.dil[1];
                if (ih < 0 || ih >= d.in[1]) continue;
                for (int64_t kw = 0; kw < d.k[2]; kw++) {
                    int64_t iw = ow * d.stride[2] - d.pb[2] + kw * d.dil[2];
                    if (iw < 0 || iw >= d.in[2]) continue;
                    float v = ld(xp, (size_t)((id * d.in[1] + ih) * d.in[2] + iw));
                    if (d.kind == 0) {
                        if (v > acc || count == 0) acc = v;
                    } else {
                        acc += v;
                    }
                    count++;
                }
            }
        }
        if (d.kind != 0) acc = d.include_pad ? acc / kvol : (count ? acc / (float)count : 0.f);
        st(y, i, acc);
    }
}

} // namespace

extern "C" cudaError_t aisk_pool(cudaStream_t s, int dtype, const void *x, void *y,
                                 const aisk_pool_desc *d, size_t planes) {
    size_t n = planes * (size_t)(d->out[0] * d->out[1] * d->out[2]);
    if (n == 0) return cudaSuccess;
    for (int i = 0; i < 3; i++)
        if (d->in[i] < 1 || d->out[i] < 1 || d->k[i] < 1 || d->stride[i] < 1 || d->dil[i] < 1)
            return cudaErrorInvalidValue;
    unsigned g = blocks_for(n);
    switch (dtype) {
    case AISK_F32: pool_kernel<float><<<g, kThreads, 0, s>>>((const float *)x, (float *)y, *d, n); break;
    case AISK_F16: pool_kernel<__half><<<g, kThreads, 0, s>>>((const __half *)x, (__half *)y, *d, n); break;
    case AISK_BF16:
        pool_kernel<__nv_bfloat16><<<g, kThreads, 0, s>>>((const __nv_bfloat16 *)x, (__nv_bfloat16 *)y, *d, n);
        break;
    default: return cudaErrorInvalidValue;
    }
    AISK_LAUNCH_CHECK();
}
