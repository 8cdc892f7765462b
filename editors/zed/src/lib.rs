//! nextword for Zed: starts `nextword serve` (found on the worktree's PATH) for Markdown and
//! plain text, and hands it the `lsp.nextword.settings` of the user's settings.json.
use zed_extension_api::{self as zed, settings::LspSettings, LanguageServerId, Result};

struct Nextword;

impl zed::Extension for Nextword {
    fn new() -> Self {
        Nextword
    }

    fn language_server_command(&mut self, id: &LanguageServerId, worktree: &zed::Worktree) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree(id.as_ref(), worktree).ok().and_then(|s| s.binary);
        let command = binary
            .as_ref()
            .and_then(|b| b.path.clone())
            .or_else(|| worktree.which("nextword"))
            .ok_or_else(|| "nextword was not found on PATH: install it (pipx install nextword) or set lsp.nextword.binary.path".to_string())?;
        let args = binary.and_then(|b| b.arguments).unwrap_or_else(|| vec!["serve".into()]);
        Ok(zed::Command { command, args, env: worktree.shell_env() })
    }

    fn language_server_workspace_configuration(
        &mut self,
        id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        let settings = LspSettings::for_worktree(id.as_ref(), worktree).ok().and_then(|s| s.settings);
        Ok(settings)
    }
}

zed::register_extension!(Nextword);
