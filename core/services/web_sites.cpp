// The ServiceManager's part of the shared web server: the sites services
// declare (tails_server/web_site.h), composed by web/web_server.
#include "services/service_manager.h"
#include "services/service_manager_p.h"

namespace tails_server::core {

void ServiceManager::Impl::declare_web_site(Entry& entry, const WebSite& site) {
  const auto& name = entry.service->name;
  const auto port = static_cast<std::uint16_t>(std::stoi(value(entry, standard_option::local_port)));
  const std::string block = render_web_site(name, site, entry.context->listen_addresses(), port, host);
  // The service being configured is served with the enabled ones: configure()
  // comes right before its start.
  auto blocks = enabled_web_sites();
  blocks[name] = block;
  web.compose(blocks);
  web.store(name, block);
}

std::map<std::string, std::string> ServiceManager::Impl::enabled_web_sites() const {
  std::map<std::string, std::string> blocks;
  for (const auto& entry : entries) {
    if (!entry->state.enabled) continue;
    if (auto block = web.block(entry->service->name)) blocks[entry->service->name] = *block;
  }
  return blocks;
}

bool ServiceManager::declares_web_site(const std::string& service) const {
  impl_->find(service);
  try {
    return impl_->web.block(service).has_value();
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, error.what());
  }
}

bool ServiceManager::web_site_uses_php(const std::string& service) const {
  impl_->find(service);
  try {
    auto block = impl_->web.block(service);
    return block && core::web_site_uses_php(*block);
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, error.what());
  }
}

bool ServiceManager::web_sites_enabled() const {
  try {
    return !impl_->enabled_web_sites().empty();
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, error.what());
  }
}

bool ServiceManager::php_web_sites_enabled() const {
  try {
    for (const auto& [service, block] : impl_->enabled_web_sites())
      if (core::web_site_uses_php(block)) return true;
    return false;
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, error.what());
  }
}

void ServiceManager::compose_web_sites() {
  try {
    impl_->web.compose(impl_->enabled_web_sites());
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, std::string("cannot compose the web server's sites: ") + error.what());
  }
}

void ServiceManager::forget_web_site(const std::string& service) {
  impl_->find(service);
  try {
    impl_->web.forget(service);
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, error.what());
  }
}

}  // namespace tails_server::core
