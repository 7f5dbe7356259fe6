with source as (
    select * from {{ raw_source('github', 'commits') }}
),

renamed as (
    select
        _scope as repository,
        {{ json_str('payload', 'sha') }} as commit_sha,
        {{ to_utc(json_str('payload', 'commit.author.date')) }} as authored_at,
        lower({{ json_str('payload', 'commit.author.email') }}) as author_email,
        {{ to_utc(json_str('payload', 'commit.committer.date')) }} as committed_at,
        {{ json_str('payload', 'commit.message') }} as message,
        {{ json_array_join('payload', 'parents', 'sha') }} as parent_shas
    from source
)

select * from renamed
