# cmake -D PROJECT_BINARY_DIR=... -D EXAMPLE_SOURCE_DIR=... -D WORK_DIR=...
#       -D LOAD_PLUGINS=... -D GENERATOR=... -D CXX_COMPILER=... -P build_example_plugin.cmake
#
# What a third party does: install the SDK, build a plugin out of tree with
# find_package(TailsServerSDK), install the plugin. Then the host's loader
# must load it. Fails with the failing step's output.
foreach(var PROJECT_BINARY_DIR EXAMPLE_SOURCE_DIR WORK_DIR LOAD_PLUGINS GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result
                  OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${step} failed (${result}):\n  ${ARGN}\n${output}")
  endif()
  message(STATUS "${step}: ok")
  set(step_output "${output}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
set(stage ${WORK_DIR}/stage)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

run("installing the project into ${prefix}"
    ${CMAKE_COMMAND} --install ${PROJECT_BINARY_DIR} --prefix ${prefix})

# Only the temporary prefix may provide the SDK.
run("configuring the example plugin"
    ${CMAKE_COMMAND} -S ${EXAMPLE_SOURCE_DIR} -B ${build} -G ${GENERATOR}
    -D CMAKE_BUILD_TYPE=RelWithDebInfo
    -D CMAKE_CXX_COMPILER=${CXX_COMPILER}
    -D CMAKE_CXX_FLAGS=-Werror
    -D CMAKE_PREFIX_PATH=${prefix}
    -D CMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
file(STRINGS ${build}/CMakeCache.txt sdk_dir REGEX "^TailsServerSDK_DIR:")
if(NOT sdk_dir MATCHES "${prefix}/")
  message(FATAL_ERROR "the example found the SDK outside ${prefix}: ${sdk_dir}")
endif()

run("building the example plugin" ${CMAKE_COMMAND} --build ${build})

# Its install rule puts example.so in the SDK's plugin directory (with
# DESTDIR, under ${stage}) with mode 0644.
set(ENV{DESTDIR} ${stage})
run("installing the example plugin" ${CMAKE_COMMAND} --install ${build})
unset(ENV{DESTDIR})
file(GLOB_RECURSE installed ${stage}/*/example.so)
list(LENGTH installed count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "expected one installed example.so under ${stage}, found: ${installed}")
endif()
cmake_path(GET installed PARENT_PATH plugin_dir)
if(NOT plugin_dir MATCHES "/tails-server/plugins$")
  message(FATAL_ERROR "example.so was installed into ${plugin_dir}, not the plugin directory")
endif()

run("loading the installed example plugin" ${LOAD_PLUGINS} ${plugin_dir})
message(STATUS "${step_output}")
if(NOT step_output MATCHES "^loaded [^\n]*/example.so: example\n$")
  message(FATAL_ERROR "unexpected loader output:\n${step_output}")
endif()
