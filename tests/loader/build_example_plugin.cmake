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

# The SDK alone: its install component must be enough to build a plugin.
run("installing the SDK component into ${prefix}"
    ${CMAKE_COMMAND} --install ${PROJECT_BINARY_DIR} --prefix ${prefix} --component sdk)
file(GLOB programs ${prefix}/bin/* ${prefix}/sbin/* ${prefix}/libexec/*)
if(NOT programs STREQUAL "${prefix}/bin/tails-server-plugin-harness" OR EXISTS ${prefix}/lib/systemd)
  message(FATAL_ERROR "the sdk component installed more than the SDK and its harness: ${programs}")
endif()
foreach(present include/tails_server/plugin.h share/doc/tails-server-sdk/README.md
        share/doc/tails-server-sdk/examples/plugin-template/example.cpp share/man/man7/tails-server-plugin.7)
  if(NOT EXISTS ${prefix}/${present})
    message(FATAL_ERROR "the sdk component did not install ${present}")
  endif()
endforeach()

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

# Its install rule puts example.so in lib/tails-server/plugins under the
# plugin's own prefix (${stage} here), not the SDK's, with mode 0644.
run("installing the example plugin" ${CMAKE_COMMAND} --install ${build} --prefix ${stage})
file(GLOB_RECURSE installed ${stage}/*/example.so)
set(plugin_dir ${stage}/lib/tails-server/plugins)
if(NOT installed STREQUAL "${plugin_dir}/example.so")
  message(FATAL_ERROR "expected ${plugin_dir}/example.so alone, found: ${installed}")
endif()

run("loading the installed example plugin" ${LOAD_PLUGINS} ${plugin_dir})
message(STATUS "${step_output}")
if(NOT step_output MATCHES "^loaded [^\n]*/example.so: example\n$")
  message(FATAL_ERROR "unexpected loader output:\n${step_output}")
endif()
