# nextword in Kakoune with kakoune-lsp (v18+, servers configured in kakrc).
# Add to your kakrc after `eval %sh{kak-lsp}`.

hook -group lsp-filetype-nextword global BufSetOption filetype=markdown %{
    # -add keeps the servers kakoune-lsp already set for Markdown (marksman).
    set-option -add buffer lsp_servers %{
        [nextword]
        root_globs = [".nextword", ".obsidian", ".git", ".hg"]
        command = "nextword"
        args = ["serve"]
        settings_section = "nextword"
        [nextword.settings.nextword]
        # Settings (all optional; these are the defaults).
        modelPath = ""
        maxItems = 10
        minProbability = 0.75
        # Kakoune in a terminal receives whole Hangul syllables (the input method composes them first).
        hangulComposing = false
    }
}

hook global WinSetOption filetype=markdown %{
    lsp-enable-window
}
