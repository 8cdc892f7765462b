-- nextword: next-word suggestions from a language model trained on your notes.
-- Copy this file to ~/.config/nvim/lsp/nextword.lua (Neovim 0.11+), then call
-- vim.lsp.enable('nextword') (see init-snippet.lua). Change settings without editing this file:
--   vim.lsp.config('nextword', { settings = { nextword = { maxItems = 5 } } })

---@type vim.lsp.Config
return {
  cmd = { 'nextword', 'serve' },
  filetypes = { 'markdown', 'text' },
  root_markers = { '.nextword', '.obsidian', '.git' },
  -- The settings go with initialize too, so the trigger characters the server announces
  -- (which the editor learns once, at start) include any you add to triggerCharacters.
  before_init = function(params, config)
    local settings = vim.deepcopy((config.settings or {}).nextword or {})
    params.initializationOptions = vim.tbl_deep_extend('force', settings, params.initializationOptions or {})
  end,
  settings = {
    nextword = {
      modelPath = '', -- model file (.safetensors); empty: your trained model if there is one, else the shipped default
      maxItems = 10, -- most completion items offered at once
      minProbability = 0.75, -- a next-word list opens after a space or punctuation only when its first three words hold at least this share of its probability
      triggerCharacters = { ' ', '(', '[', '"', '“', '/', '.', '-' }, -- characters after which next-word suggestions are offered
      hangulComposing = false, -- Neovim in a terminal receives whole Hangul syllables (the input method composes them first)
      inline = {
        enabled = true, -- ghost-text phrases (textDocument/inlineCompletion), for clients that show them
        maxWords = 4, -- longest phrase offered, in words
        minProbability = 0.25, -- the phrase as a whole must be at least this likely
      },
      learning = {
        enabled = true, -- learn the workspace folders' notes and every file saved, with no training run (:NextwordForgetWorkspace forgets a folder)
        outsideFolders = true, -- learn files saved outside every workspace folder too, in a store of their own
        maxWords = 5000000, -- the most words learned from all folders together (bounds memory)
        maxFileKb = 1024, -- files larger than this are skipped
      },
      training = {
        maxMinutes = 30, -- :NextwordTrain (nextword.trainWorkspace) stops after this many minutes (0: no limit)
      },
      logLevel = 'info', -- error, warning, info, debug or trace (only trace logs document text)
      maxLiveDocuments = 16, -- documents that keep model state at once
    },
  },
}
