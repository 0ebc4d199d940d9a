# cuda.cmake - the CUDA backend as the plugin libaistack_cuda.so: kernels/*.cu, the host side in
# lib/backend/cuda/, cuBLAS/cuBLASLt and cuDNN.
#
# Included by the top CMakeLists.txt when a CUDA compiler was found. libaistack.so links none of
# this: it dlopens the plugin the first time a session asks for the GPU (lib/backend/
# backend_plugin.c), so a CUDA build runs on a machine without the CUDA libraries. Defines
#   aistack_cuda_deps  INTERFACE: kernels, runtime, libraries, include paths, AIS_HAVE_CUDA
#   aistack_cuda_obj   OBJECT: the host side without its plugin entry (tests link it directly)
#   aistack_cuda       SHARED: the plugin, same VERSION and SOVERSION as libaistack
# cuDNN is optional: without it the cuDNN operators (Conv, ConvTranspose, pools) report
# themselves unsupported and fall back to the CPU.

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80;90")
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

# cuDNN is not part of the toolkit's CMake package: look beside the toolkit, under CUDNN_ROOT, and
# in a pip-installed nvidia-cudnn wheel (what GPU images with PyTorch carry).
set(_ais_cudnn_hints ${CUDAToolkit_LIBRARY_ROOT} ${CUDAToolkit_TARGET_DIR} $ENV{CUDNN_ROOT} $ENV{CUDNN_PATH})
foreach(_site $ENV{AIS_CUDNN_SITE} /usr/local/lib/python3.12/dist-packages /usr/lib/python3/dist-packages
        /opt/torch/.venv/lib/python3.12/site-packages)
  list(APPEND _ais_cudnn_hints ${_site}/nvidia/cudnn ${_site}/nvidia/cu13)
endforeach()
find_path(AIS_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${_ais_cudnn_hints}
  PATH_SUFFIXES include)
find_library(AIS_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${CUDAToolkit_LIBRARY_DIR} ${_ais_cudnn_hints}
  PATH_SUFFIXES lib lib64)
set(AIS_HAVE_CUDNN OFF)
if(AIS_CUDNN_INCLUDE_DIR AND AIS_CUDNN_LIBRARY)
  set(AIS_HAVE_CUDNN ON)
  message(STATUS "aistack: CUDA backend with cuDNN (${AIS_CUDNN_LIBRARY})")
else()
  message(STATUS "aistack: CUDA backend without cuDNN (not found): Conv and pools run on the CPU")
endif()

# cuBLAS's headers: some images carry the toolkit's compiler and runtime but take cuBLAS from a
# pip wheel (nvidia-cublas / nvidia cu13), so look there too.
set(_ais_cublas_hints)
foreach(_site $ENV{AIS_CUDNN_SITE} /usr/local/lib/python3.12/dist-packages /usr/lib/python3/dist-packages
        /opt/torch/.venv/lib/python3.12/site-packages)
  list(APPEND _ais_cublas_hints ${_site}/nvidia/cublas ${_site}/nvidia/cu13 ${_site}/nvidia/cu12)
endforeach()
find_path(AIS_CUBLAS_INCLUDE_DIR cublasLt.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${_ais_cublas_hints}
  /usr/include /usr/local/cuda/include PATH_SUFFIXES include)
if(NOT AIS_CUBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "aistack: the CUDA backend needs cuBLAS (cublasLt.h not found): set "
    "AIS_CUBLAS_INCLUDE_DIR, or configure with -DAIS_CUDA=OFF")
endif()
foreach(_l cublas cublasLt)
  if(NOT CUDA_${_l}_LIBRARY)
    find_library(CUDA_${_l}_LIBRARY NAMES ${_l} lib${_l}.so.13 lib${_l}.so.12
      HINTS ${CUDAToolkit_LIBRARY_DIR} ${_ais_cublas_hints} PATH_SUFFIXES lib lib64)
  endif()
  if(NOT CUDA_${_l}_LIBRARY)
    message(FATAL_ERROR "aistack: lib${_l} not found: set CUDA_${_l}_LIBRARY or -DAIS_CUDA=OFF")
  endif()
endforeach()
message(STATUS "aistack: cuBLAS headers in ${AIS_CUBLAS_INCLUDE_DIR}, libraries ${CUDA_cublas_LIBRARY} ${CUDA_cublasLt_LIBRARY}")

file(GLOB AIS_CUDA_KERNEL_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/*.cu)
add_library(aistack_cuda_kernels STATIC ${AIS_CUDA_KERNEL_SOURCES})
# Whole-program compilation (no device link step), position-independent so that it goes into
# libaistack.so, hidden so that no kernel symbol leaves it. No exceptions or RTTI: the library is
# linked by the C compiler and must not need libstdc++'s personality routines.
set_target_properties(aistack_cuda_kernels PROPERTIES
  POSITION_INDEPENDENT_CODE ON
  CUDA_SEPARABLE_COMPILATION OFF
  CUDA_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON
  CUDA_RUNTIME_LIBRARY Shared
  CUDA_STANDARD 17)
target_compile_options(aistack_cuda_kernels PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fno-exceptions,-fno-rtti,-Wall,-Wextra --Werror=all-warnings>)
target_include_directories(aistack_cuda_kernels PRIVATE ${PROJECT_SOURCE_DIR}/kernels)

add_library(aistack_cuda_deps INTERFACE)
set(_ais_cuda_libs ${CUDA_cudart_LIBRARY} ${CUDA_cublasLt_LIBRARY} ${CUDA_cublas_LIBRARY})
if(AIS_HAVE_CUDNN)
  list(APPEND _ais_cuda_libs ${AIS_CUDNN_LIBRARY})
endif()
target_link_libraries(aistack_cuda_deps INTERFACE
  $<BUILD_INTERFACE:aistack_cuda_kernels>
  $<INSTALL_INTERFACE:aistack::aistack_cuda_kernels>
  ${_ais_cuda_libs} stdc++)
# BUILD_INTERFACE only: an installed consumer neither includes these nor sees the macro.
target_include_directories(aistack_cuda_deps INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/kernels>)
# SYSTEM: the toolkit's headers are not clean under -Wstrict-prototypes -Werror.
target_include_directories(aistack_cuda_deps SYSTEM INTERFACE $<BUILD_INTERFACE:${CUDAToolkit_INCLUDE_DIRS}>)
target_include_directories(aistack_cuda_deps SYSTEM INTERFACE $<BUILD_INTERFACE:${AIS_CUBLAS_INCLUDE_DIR}>)
target_compile_definitions(aistack_cuda_deps INTERFACE $<BUILD_INTERFACE:AIS_HAVE_CUDA=1>)
if(AIS_HAVE_CUDNN)
  target_include_directories(aistack_cuda_deps SYSTEM INTERFACE $<BUILD_INTERFACE:${AIS_CUDNN_INCLUDE_DIR}>)
  target_compile_definitions(aistack_cuda_deps INTERFACE $<BUILD_INTERFACE:AIS_HAVE_CUDNN=1>)
endif()

# The host side, compiled once: into the plugin, and into the GPU unit tests, which call the
# backend's internals directly and resolve the library's internals from the static library.
file(GLOB AIS_CUDA_HOST_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lib/backend/cuda/*.c)
list(REMOVE_ITEM AIS_CUDA_HOST_SOURCES ${PROJECT_SOURCE_DIR}/lib/backend/cuda/cuda_plugin.c)
add_library(aistack_cuda_obj OBJECT ${AIS_CUDA_HOST_SOURCES})
target_include_directories(aistack_cuda_obj PRIVATE ${PROJECT_SOURCE_DIR}/include
  ${PROJECT_SOURCE_DIR}/lib ${DLPACK_INCLUDE_DIR})
target_compile_definitions(aistack_cuda_obj PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
target_compile_options(aistack_cuda_obj PRIVATE ${AIS_WARNINGS})
set_target_properties(aistack_cuda_obj PROPERTIES C_VISIBILITY_PRESET hidden)
target_link_libraries(aistack_cuda_obj PUBLIC aistack_cuda_deps)

# The plugin. It does not link libaistack: what it needs of the library's internals (errors,
# allocator, attributes, shapes) comes through the host table that libaistack passes to its one
# exported function, so the static library can load it too, and no ais__ name is exported.
add_library(aistack_cuda SHARED $<TARGET_OBJECTS:aistack_cuda_obj>
  ${PROJECT_SOURCE_DIR}/lib/backend/cuda/cuda_plugin.c)
target_include_directories(aistack_cuda PRIVATE ${PROJECT_SOURCE_DIR}/include
  ${PROJECT_SOURCE_DIR}/lib ${DLPACK_INCLUDE_DIR})
target_compile_definitions(aistack_cuda PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
target_compile_options(aistack_cuda PRIVATE ${AIS_WARNINGS})
target_link_libraries(aistack_cuda PRIVATE aistack_cuda_deps ${CMAKE_DL_LIBS})
set_target_properties(aistack_cuda PROPERTIES
  VERSION ${PROJECT_VERSION}
  SOVERSION ${AIS_VERSION_MAJOR}
  C_VISIBILITY_PRESET hidden
  LINK_DEPENDS ${PROJECT_SOURCE_DIR}/lib/backend/cuda/aistack_cuda.map)
target_link_options(aistack_cuda PRIVATE
  -Wl,--version-script=${PROJECT_SOURCE_DIR}/lib/backend/cuda/aistack_cuda.map)
if(NOT AIS_SANITIZE)
  target_link_options(aistack_cuda PRIVATE -Wl,--no-undefined)
endif()
# Beside libaistack.so, where the loader looks first. Not a library users link: no namelink,
# not in the exported CMake targets or pkg-config's Libs.
install(TARGETS aistack_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_SKIP)
