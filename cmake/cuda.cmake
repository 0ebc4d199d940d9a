# cuda.cmake - the CUDA backend: kernels/*.cu as a static library, cuBLAS/cuBLASLt and cuDNN.
#
# Included by the top CMakeLists.txt when a CUDA compiler was found. Defines the INTERFACE target
# `aistack_cuda_deps` that the library links (kernels, runtime, libraries, include paths and the
# AIS_HAVE_CUDA definition for the code and tests built here), and AIS_PC_CUDA_LIBS for the
# pkg-config file. cuDNN is optional: without it the cuDNN operators (Conv, ConvTranspose, pools)
# report themselves unsupported and fall back to the CPU.

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

# The static library's consumers need the kernels archive too; the shared one has them inside.
install(TARGETS aistack_cuda_kernels aistack_cuda_deps EXPORT aistackStaticTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

# For `pkg-config --static`: the kernels archive and the CUDA libraries (absolute directories:
# the toolkit is not relocated with the library).
set(AIS_PC_CUDA_LIBS "-laistack_cuda_kernels")
foreach(_lib ${_ais_cuda_libs})
  get_filename_component(_dir ${_lib} DIRECTORY)
  get_filename_component(_name ${_lib} NAME)
  string(REGEX REPLACE "^lib([^.]+)\\..*$" "\\1" _name "${_name}")
  string(APPEND AIS_PC_CUDA_LIBS " -L${_dir} -l${_name}")
endforeach()
string(APPEND AIS_PC_CUDA_LIBS " -lstdc++")
