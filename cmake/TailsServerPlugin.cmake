# tails_server_add_plugin(<name> SOURCES <file>... [LIBRARIES <lib>...] [NO_INSTALL])
#
# Builds the service plugin <name>.so against TailsServer::sdk: a MODULE
# library with hidden visibility (only the info struct and the factory are
# exported) and no undefined symbols. It is installed into
# TAILS_SERVER_PLUGIN_INSTALL_DIR (relative: under CMAKE_INSTALL_PREFIX)
# unless NO_INSTALL is given. If
# TAILS_SERVER_PLUGIN_OUTPUT_DIR is set, the .so is built there.
function(tails_server_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "NO_INSTALL" "" "SOURCES;LIBRARIES")
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "tails_server_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE TailsServer::sdk ${arg_LIBRARIES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN OFF)
  target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  if(TAILS_SERVER_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${TAILS_SERVER_PLUGIN_OUTPUT_DIR}")
  endif()
  if(NOT arg_NO_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION "${TAILS_SERVER_PLUGIN_INSTALL_DIR}"
            PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
endfunction()
