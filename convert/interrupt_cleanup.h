// Removes the converter's temporary output file when the process is interrupted (SIGINT,
// SIGTERM, SIGHUP), so Ctrl-C never leaves a partial file behind. One file at a time.
#pragma once

#include <string>

namespace smoe::convert {

void install_interrupt_cleanup();
void register_temporary_file(const std::string& path);
void unregister_temporary_file();

}  // namespace smoe::convert
