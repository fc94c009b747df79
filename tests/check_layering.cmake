# The engine's layers depend one way: kernels < core < backend < ops (DESIGN.md). This script fails
# (FATAL_ERROR, so the ctest fails) when a file includes a header of a layer above its own:
#   kernels/         nothing of engine/ (kernels know no tensors)
#   engine/core/     nothing of engine/ops, engine/backend, engine/cpu, engine/nn, engine/optim,
#                    engine/io, engine/rng; of engine/cuda only memory.h, the device memory pool
#                    that Storage allocates from (it knows Device and nothing of tensors)
#   engine/backend/  nothing of engine/ops, engine/nn, engine/optim, engine/io
# Usage: cmake -DROOT=<source tree> -P check_layering.cmake
if(NOT ROOT)
  message(FATAL_ERROR "check_layering: pass -DROOT=<source tree>")
endif()

set(violations "")
function(check_layer dir forbidden allowed)
  file(GLOB_RECURSE files ${ROOT}/${dir}/*.h ${ROOT}/${dir}/*.cpp ${ROOT}/${dir}/*.cuh ${ROOT}/${dir}/*.cu)
  foreach(f ${files})
    file(STRINGS ${f} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(line ${includes})
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*" "\\1" header "${line}")
      if(allowed AND header MATCHES "${allowed}")
        continue()
      endif()
      if(header MATCHES "${forbidden}")
        file(RELATIVE_PATH rel ${ROOT} ${f})
        list(APPEND violations "${rel} includes ${header}")
      endif()
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

check_layer(kernels "^engine/" "")
check_layer(engine/core "^engine/(ops|backend|cpu|cuda|nn|optim|io|rng)/" "^engine/cuda/memory\\.h$")
check_layer(engine/backend "^engine/(ops|nn|optim|io)/" "")

if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "lower layers include higher ones:\n  ${text}")
endif()
message(STATUS "layering: kernels, engine/core and engine/backend include nothing above them")
