# build.ps1 -Publish lays out a module folder that works on its own: imported from there, its cmdlets, help and the
# xtuner worker beside them train the tiny model.

BeforeAll {
    $repo = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PSScriptRoot, '..'))
    # The configuration the tests were built with (dotnet test names it; else build.ps1's default), so that the build
    # step only confirms the build is up to date.
    $configuration = if ($env:XTUNER_TEST_CONFIGURATION) { $env:XTUNER_TEST_CONFIGURATION } else { 'Release' }
    $published = & ([System.IO.Path]::Combine($repo, 'build.ps1')) -Publish -OutputPath "$TestDrive/out" -Configuration $configuration
    $savedWorker = $env:XTUNER_WORKER
    $env:XTUNER_WORKER = $null
}

AfterAll {
    $env:XTUNER_WORKER = $savedWorker
}

Describe 'build.ps1 -Publish' {
    It 'writes a module folder with the manifest, cmdlets, help, formats and the worker' {
        $published.FullName | Should -Be ([System.IO.Path]::GetFullPath("$TestDrive/out/XTuner"))
        "$TestDrive/out/XTuner/XTuner.psd1" | Should -Exist
        "$TestDrive/out/XTuner/bin/XTuner.PowerShell.dll" | Should -Exist
        "$TestDrive/out/XTuner/bin/xtuner/xtuner.dll" | Should -Exist
        "$TestDrive/out/XTuner/bin/xtuner/libLibTorchSharp.so" | Should -Exist
        "$TestDrive/out/XTuner/en-US/XTuner.PowerShell.dll-Help.xml" | Should -Exist
        "$TestDrive/out/XTuner/module/XTuner.Format.ps1xml" | Should -Exist
        @([System.IO.Directory]::GetFiles("$TestDrive/out/XTuner", '*.pdb', [System.IO.SearchOption]::AllDirectories)) | Should -HaveCount 0
    }

    It 'has a manifest whose module, formats and types resolve inside the folder' {
        $manifest = Test-ModuleManifest "$TestDrive/out/XTuner/XTuner.psd1"
        $manifest.ModuleBase | Should -Be ([System.IO.Path]::GetFullPath("$TestDrive/out/XTuner"))
        $manifest.Version | Should -Be (Test-ModuleManifest "$repo/XTuner.psd1").Version
        $manifest.ExportedCmdlets.Keys | Should -Contain 'Start-XTunerTraining'
    }

    It 'trains with the worker it carries' {
        # A separate process, as the module starts it (this test process already holds the repository's assemblies).
        $output = & dotnet "$TestDrive/out/XTuner/bin/xtuner/xtuner.dll" train tiny-llama --max-steps 2 --work-dir "$TestDrive/run" 2>&1
        $LASTEXITCODE | Should -Be 0
        ($output -join "`n") | Should -Match 'step 2/2'
        "$TestDrive/run/hf/model.safetensors" | Should -Exist
    }
}
