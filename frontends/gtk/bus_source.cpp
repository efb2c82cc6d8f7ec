#include "bus_source.h"

#include <poll.h>
#include <time.h>

namespace tails_server::gui {
namespace {

struct Source {
  GSource base;
  client::AsyncClient* client;
  gpointer tag;
};

std::uint64_t now_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000 + std::uint64_t(ts.tv_nsec) / 1000;
}

GIOCondition condition_of(int events) {
  int c = 0;
  if (events & POLLIN) c |= G_IO_IN;
  if (events & POLLOUT) c |= G_IO_OUT;
  return GIOCondition(c);
}

gboolean prepare(GSource* base, gint* timeout_ms) {
  auto* s = reinterpret_cast<Source*>(base);
  g_source_modify_unix_fd(base, s->tag, condition_of(s->client->events()));
  std::uint64_t until = s->client->timeout_usec();
  if (until == UINT64_MAX) {
    *timeout_ms = -1;
    return FALSE;
  }
  std::uint64_t now = now_usec();
  if (until <= now) {
    *timeout_ms = 0;
    return TRUE;
  }
  *timeout_ms = int((until - now + 999) / 1000);
  return FALSE;
}

gboolean check(GSource* base) {
  auto* s = reinterpret_cast<Source*>(base);
  if (g_source_query_unix_fd(base, s->tag) != 0) return TRUE;
  std::uint64_t until = s->client->timeout_usec();
  return until != UINT64_MAX && until <= now_usec();
}

gboolean dispatch(GSource* base, GSourceFunc, gpointer) {
  reinterpret_cast<Source*>(base)->client->process();
  return G_SOURCE_CONTINUE;
}

GSourceFuncs funcs = {prepare, check, dispatch, nullptr, nullptr, nullptr};

}  // namespace

BusSource::BusSource(client::AsyncClient& client) {
  source_ = g_source_new(&funcs, sizeof(Source));
  auto* s = reinterpret_cast<Source*>(source_);
  s->client = &client;
  s->tag = g_source_add_unix_fd(source_, client.fd(), condition_of(client.events()));
  g_source_set_name(source_, "tails-serverd bus");
  g_source_attach(source_, nullptr);
}

BusSource::~BusSource() {
  g_source_destroy(source_);
  g_source_unref(source_);
}

}  // namespace tails_server::gui
